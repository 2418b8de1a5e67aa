package broker

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/web/certs"
	"github.com/peerlink/peerlink/wire"
)

// certBroker is a standalone broker admitting peers by the certificates
// of its own test CA, as `peerlink broker --client-ca` does.
type certBroker struct {
	*testBroker
	ca   *certs.Authority
	data string
}

// startCertBroker serves a broker whose credential list lives in data.
func startCertBroker(t *testing.T, data string) *certBroker {
	t.Helper()
	ca, _, err := certs.LoadOrCreateAuthority(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	conf, err := ca.ServerConfig(t.TempDir(), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	certs.RequireClientCerts(conf, ca.Cert)
	creds, err := LoadCredentials(data)
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer("", testLog(t))
	s.SetCredentials(creds)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &testBroker{Server: s, url: "wss://" + ln.Addr().String() + "/ws", cancel: cancel, errc: make(chan error, 1)}
	go func() { b.errc <- s.Serve(ctx, tls.NewListener(ln, conf)) }()
	t.Cleanup(func() { b.stop(t) })
	return &certBroker{testBroker: b, ca: ca, data: data}
}

// tlsAs is a client configuration trusting b's CA and presenting a new
// certificate of b's CA for role and name.
func (b *certBroker) tlsAs(t *testing.T, role, name string) *tls.Config {
	t.Helper()
	pair, err := b.ca.ClientPair(role, name)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(b.ca.Cert)
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: certs.MinVersion}
}

func (b *certBroker) dial(conf *tls.Config, hello wire.Hello) (*Client, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hello.Token = ""
	return DialTLS(ctx, b.url, hello, conf, zerolog.Nop())
}

func serialOf(conf *tls.Config) string { return certs.SerialOf(conf.Certificates[0].Leaf) }

// sendCredentials has hub send list to the broker and returns the answer.
func sendCredentials(t *testing.T, hub *Client, list ...wire.Credential) error {
	t.Helper()
	_, err := hub.Request(bg(t), FromBroker, &wire.Credentials{Agents: list}, nil)
	return err
}

func wantRefused(t *testing.T, what string, err error, kind wire.ErrKind, msg ...string) {
	t.Helper()
	var we *wire.Error
	if !errors.As(err, &we) || we.Kind != kind {
		t.Fatalf("%s: %v, want a refusal of kind %v", what, err, kind)
	}
	for _, m := range msg {
		if !strings.Contains(we.Msg, m) {
			t.Errorf("%s: %q does not say %q", what, we.Msg, m)
		}
	}
}

// At the handshake the broker refuses, by the hub's list, a revoked
// certificate and one replaced by a later join, for good; an agent the
// list does not name yet is told to try again; a current one is admitted.
func TestStandaloneHandshakeFollowsTheHubsList(t *testing.T) {
	noLeaks(t)
	b := startCertBroker(t, t.TempDir())
	siteA, siteB := b.tlsAs(t, certs.RoleAgent, "site-a"), b.tlsAs(t, certs.RoleAgent, "site-b")
	_, err := b.dial(siteA, agentHello("site-a"))
	wantRefused(t, "an agent before the hub's list", err, wire.KindTransient, "not yet heard from the hub")

	hub, err := b.dial(b.tlsAs(t, certs.RoleHub, wire.HubName), hubHello())
	if err != nil {
		t.Fatalf("the hub by its certificate: %v", err)
	}
	t.Cleanup(func() { hub.Close() })
	revoked := time.Now().Add(-time.Minute).UnixNano()
	if err := sendCredentials(t, hub, wire.Credential{Name: "site-a", Serial: serialOf(siteA), Revoked: revoked},
		wire.Credential{Name: "site-b", Serial: serialOf(siteB)}, wire.Credential{Name: "site-c", Serial: "abc"}); err != nil {
		t.Fatalf("the hub's list: %v", err)
	}
	_, err = b.dial(siteA, agentHello("site-a"))
	wantRefused(t, "a revoked agent", err, wire.KindPermission, "site-a's credential was revoked", "peerlink join-code create --name site-a")
	_, err = b.dial(b.tlsAs(t, certs.RoleAgent, "site-c"), agentHello("site-c"))
	wantRefused(t, "a replaced certificate", err, wire.KindPermission, "replaced by a later join")
	_, err = b.dial(b.tlsAs(t, certs.RoleAgent, "site-d"), agentHello("site-d"))
	wantRefused(t, "an agent not on the list", err, wire.KindTransient, "has not told this broker of agent site-d")
	_, err = b.dial(siteB, agentHello("site-a"))
	wantRefused(t, "site-b's certificate claiming site-a", err, wire.KindPermission, `certificate is for agent "site-b"`)
	c, err := b.dial(siteB, agentHello("site-b"))
	if err != nil {
		t.Fatalf("a current agent: %v", err)
	}
	c.Close()
	noCert := siteB.Clone()
	noCert.Certificates = nil
	h := agentHello("site-b")
	_, err = b.dial(noCert, h)
	wantRefused(t, "an agent without a certificate", err, wire.KindPermission, "admits agents by certificate")
}

// A connected agent whose certificate the hub's new list revokes is
// dropped at once; the others stay.
func TestStandaloneDropsAnAgentTheHubRevokes(t *testing.T) {
	noLeaks(t)
	b := startCertBroker(t, t.TempDir())
	hub, err := b.dial(b.tlsAs(t, certs.RoleHub, wire.HubName), hubHello())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	siteA, siteB := b.tlsAs(t, certs.RoleAgent, "site-a"), b.tlsAs(t, certs.RoleAgent, "site-b")
	list := []wire.Credential{{Name: "site-a", Serial: serialOf(siteA)}, {Name: "site-b", Serial: serialOf(siteB)}}
	if err := sendCredentials(t, hub, list...); err != nil {
		t.Fatal(err)
	}
	a, err := b.dial(siteA, agentHello("site-a"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	bb, err := b.dial(siteB, agentHello("site-b"))
	if err != nil {
		t.Fatal(err)
	}
	defer bb.Close()
	list[1].Revoked = time.Now().UnixNano()
	if err := sendCredentials(t, hub, list...); err != nil {
		t.Fatal(err)
	}
	select {
	case <-bb.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the revoked agent is still connected")
	}
	waitFor(t, 5*time.Second, "site-b gone from the broker", func() bool { return !b.connected("site-b") })
	if !b.connected("site-a") {
		t.Fatal("site-a was dropped too")
	}
}

// Only the hub may send the list: an agent sending one is disconnected
// and changes nothing; a broker admitting by the token tells the hub it
// takes no list, and keeps it.
func TestCredentialsFromAnyoneButTheHubAreRefused(t *testing.T) {
	noLeaks(t)
	b := startCertBroker(t, t.TempDir())
	hub, err := b.dial(b.tlsAs(t, certs.RoleHub, wire.HubName), hubHello())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	siteA := b.tlsAs(t, certs.RoleAgent, "site-a")
	if err := sendCredentials(t, hub, wire.Credential{Name: "site-a", Serial: serialOf(siteA)}); err != nil {
		t.Fatal(err)
	}
	forger, err := b.dial(siteA, agentHello("site-a"))
	if err != nil {
		t.Fatal(err)
	}
	defer forger.Close()
	err = sendCredentials(t, forger, wire.Credential{Name: "site-a", Serial: serialOf(siteA)}, wire.Credential{Name: "site-x", Serial: "1"})
	if err == nil {
		t.Fatal("the broker answered an agent's credentials")
	}
	if !websocket.IsCloseError(forger.Err(), websocket.ClosePolicyViolation) && !strings.Contains(forger.Err().Error(), "policy") {
		t.Errorf("the forger's connection ended with %v, want a policy-violation close", forger.Err())
	}
	_, err = b.dial(b.tlsAs(t, certs.RoleAgent, "site-x"), agentHello("site-x"))
	wantRefused(t, "the host the forged list named", err, wire.KindTransient, "has not told this broker of agent site-x")

	tb := startBroker(t, nil)
	th := connect(t, tb, hubHello())
	err = sendCredentials(t, th, wire.Credential{Name: "site-a", Serial: "1"})
	wantRefused(t, "credentials to a token broker", err, wire.KindInvalid, "--client-ca")
	if !tb.connected(wire.HubName) {
		t.Fatal("the hub was disconnected by a token broker")
	}
}

// The list outlives a restart of the broker: the revoked agent is refused
// before the hub reconnects.
func TestCredentialsOutliveARestart(t *testing.T) {
	noLeaks(t)
	data := t.TempDir()
	b := startCertBroker(t, data)
	hub, err := b.dial(b.tlsAs(t, certs.RoleHub, wire.HubName), hubHello())
	if err != nil {
		t.Fatal(err)
	}
	revoked := b.tlsAs(t, certs.RoleAgent, "site-b")
	if err := sendCredentials(t, hub, wire.Credential{Name: "site-b", Serial: serialOf(revoked), Revoked: time.Now().UnixNano()}); err != nil {
		t.Fatal(err)
	}
	hub.Close()
	b.stop(t)
	creds, err := LoadCredentials(data)
	if err != nil {
		t.Fatal(err)
	}
	err = creds.Authorize(certs.Identity{Role: certs.RoleAgent, Name: "site-b", Serial: serialOf(revoked)})
	if err == nil || !strings.Contains(err.Error(), "site-b's credential was revoked") {
		t.Fatalf("after a restart the revoked agent: %v", err)
	}
}
