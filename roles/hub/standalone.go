package hub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/web/certs"
	"github.com/peerlink/peerlink/wire"
)

// What the hub knows of a standalone broker's way of admitting agents.
const (
	brokerUnknown int32 = iota // not reached yet
	brokerByCert               // run with --client-ca: takes the hub's list
	brokerByToken              // admits by the shared token only
)

// standalone is the hub's side of a standalone broker (--broker-url
// wss://...) that admits agents by certificate: it cannot read hub.db, so
// the hub sends it the list of enrolled agents' credentials when it
// connects and whenever one changes (a join, a revocation).
type standalone struct {
	url   string       // the hub's --broker-url, which joining agents are told
	state atomic.Int32 // brokerUnknown, brokerByCert or brokerByToken
	// mu serialises the lists sent, each read from hub.db under it, so
	// the broker never gets an older list after a newer one.
	mu sync.Mutex
}

// standaloneTLS is the hub's client configuration for a standalone broker
// at a wss:// URL: the system's roots, caFile's and the hub's own CA (which
// signs the broker's certificate, `peerlink broker-cert create`), and a
// client certificate of the hub's CA that a broker run with --client-ca
// admits the hub by.
func standaloneTLS(ht *hubTLS, caFile string) (*tls.Config, error) {
	conf, err := certs.Client(caFile)
	if err != nil {
		return nil, err
	}
	if ht.ca == nil {
		return conf, nil
	}
	conf.RootCAs.AddCert(ht.ca.Cert)
	pair, err := ht.ca.ClientPair(certs.RoleHub, wire.HubName)
	if err != nil {
		return nil, err
	}
	conf.Certificates = []tls.Certificate{pair}
	return conf, nil
}

// useStandalone has h enrol agents for the standalone broker at url.
func (h *Hub) useStandalone(ht *hubTLS, url string) {
	if ht.ca == nil || !(strings.HasPrefix(url, "wss://") || strings.HasPrefix(url, "https://")) {
		return
	}
	h.enrol = &enrolment{ca: ht.ca, anchorHash: ht.anchor, remote: &standalone{url: url}}
}

// credentialList is every enrolled host's credential, as hub.db has it.
func (h *Hub) credentialList() (*wire.Credentials, error) {
	list, err := h.db.AgentCerts()
	if err != nil {
		return nil, err
	}
	m := &wire.Credentials{Agents: make([]wire.Credential, len(list))}
	for i, c := range list {
		m.Agents[i] = wire.Credential{Name: c.Name, Serial: c.Serial}
		if !c.Revoked.IsZero() {
			m.Agents[i].Revoked = c.Revoked.UnixNano()
		}
	}
	return m, nil
}

// sendCredentials sends the list to the standalone broker over c and
// records what the answer says of the broker.
func (h *Hub) sendCredentials(ctx context.Context, c *broker.Client) error {
	sb := h.enrol.remote
	sb.mu.Lock()
	defer sb.mu.Unlock()
	list, err := h.credentialList()
	if err != nil {
		return fmt.Errorf("agents' credentials for the broker: %w", err)
	}
	_, err = c.Request(ctx, broker.FromBroker, list, nil)
	var we *wire.Error
	switch {
	case err == nil:
		if sb.state.Swap(brokerByCert) != brokerByCert {
			h.log.Info().Str("broker", sb.url).Msg("the standalone broker admits agents by certificate: join codes enrol agents for it")
		}
	case errors.As(err, &we) && we.Kind == wire.KindInvalid:
		sb.state.Store(brokerByToken)
		h.log.Error().Err(err).Str("broker", sb.url).Msg("the standalone broker does not take the agents' credentials: the hub cannot enrol agents for it")
	}
	return err
}

// syncStandalone sends the list once c is connected, retrying a failure
// the broker may get over (a full disk), until it is taken or c ends.
func (h *Hub) syncStandalone(ctx context.Context, c *broker.Client) (stop func()) {
	if h.enrol == nil || h.enrol.remote == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for attempt := 0; ; attempt++ {
			err := h.sendCredentials(ctx, c)
			var we *wire.Error
			if err == nil || ctx.Err() != nil || (errors.As(err, &we) && we.Kind == wire.KindInvalid) {
				return
			}
			h.log.Warn().Err(err).Msg("agents' credentials not taken by the broker; trying again")
			select {
			case <-time.After(broker.Backoff(attempt)):
			case <-ctx.Done():
				return
			case <-c.Done():
				return
			}
		}
	}()
	return func() { cancel(); <-done }
}

// tellStandalone sends the changed list to the standalone broker now,
// which drops an agent whose certificate it no longer admits. Without a
// connection, the next one's list carries the change.
func (h *Hub) tellStandalone(why string) {
	h.mu.Lock()
	c := h.conn
	h.mu.Unlock()
	if c == nil {
		h.log.Warn().Str("change", why).Msg("the standalone broker is not connected: it gets the change when the hub reconnects")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.sendCredentials(ctx, c); err != nil {
		h.log.Error().Err(err).Str("change", why).Msg("the standalone broker was not told of the change: it is when the hub reconnects to it")
	}
}

// standaloneReady says why join codes cannot be made for the standalone
// broker yet, or nil.
func (sb *standalone) ready() error {
	switch sb.state.Load() {
	case brokerUnknown:
		return fmt.Errorf("%w: the hub has not reached its broker at %s yet: start it (peerlink broker --client-ca HUBDATA/tls/ca.pem --tls-cert ... --tls-key ...), then try again",
			ErrBusy, sb.url)
	case brokerByToken:
		return fmt.Errorf("%w: the broker at %s admits agents by the shared token only: run it with --client-ca HUBDATA/tls/ca.pem "+
			"and a certificate from `peerlink broker-cert create`, then restart the hub", ErrInvalid, sb.url)
	}
	return nil
}
