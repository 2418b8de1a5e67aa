package hub

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/web/certs"
	"github.com/peerlink/peerlink/web/enrol"
)

// Join codes live an hour unless told otherwise, and at most 30 days: a
// code is a password to the hub for whoever holds it.
const (
	defaultCodeTTL = time.Hour
	maxCodeTTL     = 30 * 24 * time.Hour
)

// tokenSetting is the hub.db setting that says agents may still connect
// with the shared token of older releases ("accepted"); absent: they may
// not.
const tokenSetting = "agent-token"

// enrolment is the hub's side of agents' credentials: the CA that signs
// them, the pin join codes carry, and the broker that admits agents by
// them, embedded (srv) or standalone (remote). It is nil on a hub without
// TLS, or with a standalone broker it does not reach by wss://.
type enrolment struct {
	ca         *certs.Authority
	anchorHash string         // Hash of the certificate agents pin
	hubSerial  string         // of the hub's own client certificate
	brokerPort string         // of the embedded broker, for the join answer
	srv        *broker.Server // the embedded broker, or nil
	remote     *standalone    // a standalone broker, or nil
	token      string         // the shared token, while agents may use it
	tokenOK    atomic.Bool
}

// CreateJoinCode makes a single-use join code enrolling host name.
func (h *Hub) CreateJoinCode(name, ttl, user string) (api.JoinCode, error) {
	e := h.enrol
	if e == nil {
		return api.JoinCode{}, fmt.Errorf("%w: join codes need the hub's TLS and its embedded broker: "+
			"this hub runs with --insecure-plain or --broker-url, and its agents connect with the token in DATA/token", api.ErrInvalid)
	}
	if e.remote != nil {
		if err := e.remote.ready(); err != nil {
			return api.JoinCode{}, err
		}
	}
	d := defaultCodeTTL
	if ttl != "" {
		var err error
		if d, err = time.ParseDuration(ttl); err != nil || d < time.Second || d > maxCodeTTL {
			return api.JoinCode{}, fmt.Errorf("%w: ttl %q: give a duration from 1s to 720h, e.g. 1h", api.ErrInvalid, ttl)
		}
	}
	code, err := enrol.NewCode(name, e.anchorHash)
	if err != nil {
		return api.JoinCode{}, fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	now := time.Now()
	jc := store.JoinCode{Name: name, Created: now, Expires: now.Add(d)}
	if err := h.db.PutJoinCode(enrol.SecretHash(code.Secret), jc); err != nil {
		return api.JoinCode{}, err
	}
	h.log.Info().Str("host", name).Str("by", user).Time("expires", jc.Expires).Msg("join code created")
	return api.JoinCode{Name: name, Code: code.String(), Expires: jc.Expires}, nil
}

// Join enrols the sender of req with its code: it signs the request's key
// for the code's host and records the certificate as that host's only
// credential. host is the address the agent reached the hub by, which
// the broker's URL in the answer reuses.
func (h *Hub) Join(req enrol.Request, csr *x509.CertificateRequest, host string) (enrol.Response, error) {
	e := h.enrol
	if e == nil {
		return enrol.Response{}, fmt.Errorf("%w: this hub does not enrol agents (--insecure-plain or --broker-url)", api.ErrDenied)
	}
	var cert *x509.Certificate
	_, err := h.db.UseJoinCode(enrol.SecretHash(req.Secret), time.Now(), func(name string) (store.AgentCert, error) {
		if name != req.Name {
			return store.AgentCert{}, fmt.Errorf("the join code is for host %q, not %q", name, req.Name)
		}
		var err error
		if cert, err = e.ca.SignClient(csr, certs.RoleAgent, name); err != nil {
			return store.AgentCert{}, err
		}
		return store.AgentCert{Name: name, Serial: certs.SerialOf(cert), Issued: time.Now()}, nil
	})
	if err != nil {
		h.log.Warn().Err(err).Str("host", req.Name).Msg("join refused")
		return enrol.Response{}, joinRefusal(err, req.Name)
	}
	// A host enrolled again replaces its old certificate: a connection
	// with the old one goes.
	h.log.Info().Str("host", req.Name).Str("serial", certs.SerialOf(cert)).Msg("agent enrolled")
	resp := enrol.Response{Certificate: string(certs.EncodeCert(cert.Raw)), CA: string(certs.EncodeCert(e.ca.Cert.Raw))}
	if e.remote != nil {
		// Before the answer, so the broker knows the agent when it comes.
		h.tellStandalone("agent " + req.Name + " enrolled")
		resp.BrokerURL = e.remote.url
		return resp, nil
	}
	e.srv.Drop(req.Name, "enrolled again")
	hostname, _, err := net.SplitHostPort(host)
	if err != nil {
		hostname = host
	}
	resp.BrokerURL = "wss://" + net.JoinHostPort(hostname, e.brokerPort) + "/ws"
	return resp, nil
}

// joinRefusal says what to do about a refused join.
func joinRefusal(err error, name string) error {
	create := fmt.Sprintf("create a new one where the hub runs: peerlink join-code create --name %s", name)
	switch {
	case errors.Is(err, store.ErrCodeUnknown):
		return fmt.Errorf("%w: unknown join code: copy the whole line `peerlink join-code create` printed, or %s", api.ErrDenied, create)
	case errors.Is(err, store.ErrCodeUsed):
		return fmt.Errorf("%w: %w: a code enrols one agent once; %s", api.ErrDenied, unwrapStore(err), create)
	case errors.Is(err, store.ErrCodeExpired):
		return fmt.Errorf("%w: %w: %s (with --ttl for longer)", api.ErrDenied, unwrapStore(err), create)
	}
	return fmt.Errorf("%w: %w", api.ErrDenied, err)
}

// unwrapStore drops the store's "store: use join code: " prefix.
func unwrapStore(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

// AgentCredentials lists the enrolled hosts.
func (h *Hub) AgentCredentials() ([]api.AgentCredential, error) {
	list, err := h.db.AgentCerts()
	if err != nil {
		return nil, err
	}
	out := make([]api.AgentCredential, len(list))
	for i, c := range list {
		out[i] = api.AgentCredential{Name: c.Name, Serial: c.Serial, Issued: c.Issued, Revoked: c.Revoked}
	}
	return out, nil
}

// RevokeAgent revokes host name's credential and drops its connection at
// once; the broker refuses it at every later handshake.
func (h *Hub) RevokeAgent(name, user string) (api.AgentCredential, error) {
	if h.cfg.NATSRevoked != nil {
		return h.revokeNATSAgent(name, user)
	}
	c, err := h.db.RevokeAgentCert(name, time.Now())
	if errors.Is(err, store.ErrNotFound) {
		return api.AgentCredential{}, fmt.Errorf("%w: no agent %q was enrolled: `peerlink agents list` shows those that were", api.ErrNotFound, name)
	}
	if err != nil {
		return api.AgentCredential{}, err
	}
	switch e := h.enrol; {
	case e != nil && e.remote != nil:
		h.tellStandalone("agent " + name + " revoked")
	case e != nil:
		e.srv.Drop(name, "credential revoked")
	}
	h.log.Warn().Str("host", name).Str("by", user).Msg("agent credential revoked")
	return api.AgentCredential{Name: c.Name, Serial: c.Serial, Issued: c.Issued, Revoked: c.Revoked}, nil
}

// RequireCerts ends the shared token's use by agents, for good: agents
// still connected by it are dropped.
func (h *Hub) RequireCerts(user string) (api.AgentAuth, error) {
	e := h.enrol
	if e == nil {
		return api.AgentAuth{}, fmt.Errorf("%w: this hub does not enrol agents (--insecure-plain or --broker-url): its agents need the token", api.ErrInvalid)
	}
	if e.remote != nil {
		return api.AgentAuth{}, fmt.Errorf("%w: the standalone broker, run with --client-ca, admits no agent by the token already: nothing to do", api.ErrInvalid)
	}
	if err := h.db.DeleteSetting(tokenSetting); err != nil {
		return api.AgentAuth{}, err
	}
	e.tokenOK.Store(false)
	e.srv.SetToken("")
	for _, p := range e.srv.Peers() {
		if p.Role == "agent" && !p.Certified {
			e.srv.Drop(p.Name, "the hub no longer accepts the shared token: enrol with a join code")
		}
	}
	h.log.Warn().Str("by", user).Msg("agents must now present a certificate: the shared token no longer admits them")
	return api.AgentAuth{}, nil
}

// authorize is the embedded broker's check of a verified certificate, at
// every handshake: the hub's own, or an agent's current, unrevoked one.
func (e *enrolment) authorize(db *store.Hub) broker.Authorizer {
	return func(id certs.Identity) error {
		if id.Role == certs.RoleHub {
			if id.Serial != e.hubSerial {
				return errors.New("a hub certificate other than this hub's: only the hub itself connects as the hub")
			}
			return nil
		}
		c, err := db.AgentCert(id.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return broker.CheckAgent(id, nil)
		case err != nil:
			return fmt.Errorf("the hub cannot check agent %s's credential now: %v: the agent tries again", id.Name, err)
		}
		return broker.CheckAgent(id, &broker.AgentRecord{Serial: c.Serial, Revoked: c.Revoked})
	}
}

// agentAuthWarning is status' warning while agents may use the token.
func (h *Hub) agentAuthWarnings() []string {
	if e := h.enrol; e != nil && e.tokenOK.Load() {
		return []string{"agents may still connect with the shared token of an older release (DATA/token): " +
			"enrol each with a join code (peerlink join-code create --name HOST), then run `peerlink agents require-certs`"}
	}
	return nil
}

// embeddedBroker is the hub's broker. With TLS it admits agents by their
// certificates, and by the shared token only on a hub upgraded from it
// (upgraded: a data directory with a token and no CA) until the operator
// runs `peerlink agents require-certs`. Without TLS (--insecure-plain) it
// admits by the token, as older releases did.
func embeddedBroker(h *Hub, ht *hubTLS, hubConf *tls.Config, ln net.Listener, token string, upgraded bool, o Options) (*broker.Server, error) {
	log := o.Log.With().Str("role", "broker").Logger()
	if ht.server == nil {
		return broker.NewServer(token, log), nil
	}
	if upgraded {
		if err := h.db.PutSetting(tokenSetting, []byte("accepted")); err != nil {
			return nil, err
		}
	}
	accepted := false
	if _, err := h.db.Setting(tokenSetting); err == nil {
		accepted = true
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	agentToken := ""
	if accepted {
		agentToken = token
		o.Log.Warn().Msg("agents may still connect with the shared token of an older release: enrol each with a join code, then run `peerlink agents require-certs`")
	}
	srv := broker.NewServer(agentToken, log)
	e := &enrolment{ca: ht.ca, anchorHash: ht.anchor, hubSerial: certs.SerialOf(hubConf.Certificates[0].Leaf), srv: srv, token: agentToken}
	_, e.brokerPort, _ = net.SplitHostPort(ln.Addr().String())
	e.tokenOK.Store(accepted)
	srv.SetAuthorizer(e.authorize(h.db))
	h.enrol = e
	return srv, nil
}
