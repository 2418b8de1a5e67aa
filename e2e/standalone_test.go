//go:build linux

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/roles/agent"
	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/testkit/ports"
	"github.com/peerlink/peerlink/wire"
)

// A standalone broker with a certificate from the hub's CA and the hub's
// CA as --client-ca admits agents enrolled by join codes, which learn its
// URL from their join; a session syncs through it; revoking an agent drops
// it at the broker at once and its reconnect is refused; an agent's
// certificate cannot claim another host.
func TestStandaloneBrokerByCertificate(t *testing.T) {
	t.Parallel()
	port := ports.Free(t)
	brokerURL := fmt.Sprintf("wss://127.0.0.1:%d/ws", port)
	c := newCluster(t, "--broker-url", brokerURL)
	c.brokerWS = brokerURL
	tlsDir := filepath.Join(c.dir, "broker-tls")
	out := c.mustCLI("broker-cert", "create", "--ip", "127.0.0.1", "--out", tlsDir)
	if !strings.Contains(out, "--client-ca "+filepath.Join(tlsDir, "ca.pem")) {
		t.Errorf("broker-cert create printed:\n%s", out)
	}
	for _, f := range []string{"broker.pem", "broker-key.pem", "ca.pem"} {
		assertPrivate(t, filepath.Join(tlsDir, f))
	}
	brokerArgs := []string{"broker", "--data", filepath.Join(c.dir, "broker"), "--listen", fmt.Sprintf("127.0.0.1:%d", port),
		"--tls-cert", filepath.Join(tlsDir, "broker.pem"), "--tls-key", filepath.Join(tlsDir, "broker-key.pem"), "--client-ca", filepath.Join(tlsDir, "ca.pem")}
	c.start("broker", brokerArgs...)
	// Join codes wait for the hub to learn that its broker admits agents
	// by certificate.
	var codeA string
	waitFor(t, 30*time.Second, "a join code for the standalone broker", func() bool {
		r := c.cli("join-code", "create", "--name", "site-a")
		codeA = strings.TrimSpace(r.stdout)
		return r.code == 0
	})
	join := func(host, code string) *proc {
		p := c.start("agent-"+host, "agent", "--join", code, "--hub", c.hubURL, "--data", filepath.Join(c.dir, "agent-"+host))
		c.waitAgent(host, true, p)
		return p
	}
	join("site-a", codeA)
	pb := join("site-b", c.joinCode("site-b"))
	if id, err := agent.LoadIdentity(filepath.Join(c.dir, "agent-site-b")); err != nil || id.BrokerURL != brokerURL {
		t.Fatalf("site-b's identity: %+v, %v; want the standalone broker's URL %s", id, err, brokerURL)
	}

	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	writeFile(t, c.root("site-a"), "plan.txt", "through the standalone broker\n", base)
	c.createSession("docs", []string{"site-a", "site-b"})
	c.mustCLI("session", "start", "docs", "--wait")
	sameTrees(t, c.root("site-a"), c.root("site-b"))

	impostor(t, c, brokerURL)

	c.mustCLI("agents", "revoke", "site-b")
	if code := waitExit(t, pb, 20*time.Second); code == 0 {
		t.Errorf("the revoked agent exited 0")
	}
	c.waitAgent("site-b", false, nil)
	if s := pb.logTail(50); !strings.Contains(s, "credential was revoked") || !strings.Contains(s, "peerlink join-code create --name site-b") {
		t.Errorf("the revoked agent does not say why and what to do:\n%s", s)
	}
	if b, _ := os.ReadFile(c.proc("broker").log); !strings.Contains(string(b), "dropping the peer") {
		t.Errorf("the broker's log does not show site-b dropped")
	}
	p := c.start("agent-site-b", "agent", "--data", filepath.Join(c.dir, "agent-site-b"))
	if code := waitExit(t, p, 20*time.Second); code == 0 {
		t.Errorf("the revoked agent reconnecting exited 0")
	}
	if s := p.logTail(50); !strings.Contains(s, "credential was revoked") {
		t.Errorf("the revoked agent's reconnect was not refused for its revocation:\n%s", s)
	}
	if _, connected := agentExists(t, c, "site-a"); !connected {
		t.Errorf("site-a was dropped with site-b")
	}
}

// impostor checks that site-a's certificate admits neither a hello naming
// site-b nor one naming the hub at the broker at url, and that neither
// attempt drops the real site-b.
func impostor(t *testing.T, c *cluster, url string) {
	t.Helper()
	id, err := agent.LoadIdentity(filepath.Join(c.dir, "agent-site-a"))
	if err != nil || id == nil {
		t.Fatalf("site-a's identity: %v", err)
	}
	conf, err := id.TLS("")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = broker.DialTLS(ctx, url, wire.Hello{Role: wire.RoleAgent, Name: "site-b", Version: "test"}, conf, zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), `certificate is for agent "site-a", but its hello claims to be agent "site-b"`) {
		t.Errorf("a hello naming site-b with site-a's certificate: %v", err)
	}
	_, err = broker.DialTLS(ctx, url, wire.Hello{Role: wire.RoleHub, Name: wire.HubName, Version: "test"}, conf, zerolog.Nop())
	if err == nil {
		t.Errorf("site-a's certificate was admitted as the hub")
	}
	if _, connected := agentExists(t, c, "site-b"); !connected {
		t.Errorf("site-b was disconnected by the impostor")
	}
}
