//go:build linux

package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/roles/agent"
	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/web/enrol"
	"github.com/peerlink/peerlink/wire"
)

// A hub's first start makes its CA; an agent joins with a code, keeps its
// identity 0600 under --data, and from then on `agent --data DIR` alone
// connects by mutual TLS; the hub lists it as enrolled and warns of no
// token.
func TestEnrolJoinThenDataAlone(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	for _, f := range []string{"ca.pem", "ca-key.pem", "server.pem", "server-key.pem"} {
		assertPrivate(t, filepath.Join(c.dir, "hub", "tls", f))
	}
	p := c.startAgent("site-a")
	data := filepath.Join(c.dir, "agent-site-a")
	for _, f := range []string{"agent.pem", "agent-key.pem", "hub-ca.pem", "ca.pem", "identity.json"} {
		assertPrivate(t, filepath.Join(data, "identity", f))
	}
	if !strings.Contains(p.logTail(200), "joined the hub") {
		t.Errorf("the agent's log does not say it joined:\n%s", p.logTail(30))
	}
	p.stop()
	c.waitAgent("site-a", false, nil)
	p = c.start("agent-site-a", "agent", "--data", data)
	c.waitAgent("site-a", true, p)
	out := c.mustCLI("agents", "list")
	if !strings.Contains(out, "site-a") || !strings.Contains(out, "enrolled") {
		t.Errorf("agents list:\n%s", out)
	}
	if out := c.mustCLI("status"); strings.Contains(out, "WARNING") {
		t.Errorf("a new hub warns:\n%s", out)
	}
	// The hub's own broker connection shows the hub reached it by its
	// certificate: it sees the agent.
	if b, _ := os.ReadFile(c.proc("hub").log); !strings.Contains(string(b), `"name":"site-a"`) {
		t.Errorf("hub log does not show site-a connected")
	}
}

func assertPrivate(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %s, want 0600", path, fi.Mode().Perm())
	}
}

// Expired, reused and unknown join codes are refused, each saying what
// to do, and the agent enrols nothing.
func TestEnrolBadCodes(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	join := func(name, code string) result {
		return runPeerlink(t, nil, "agent", "--join", code, "--hub", c.hubURL, "--data", filepath.Join(c.dir, "agent-"+name+"-"+code[len(code)-6:]))
	}
	expired := strings.TrimSpace(c.mustCLI("join-code", "create", "--name", "site-e", "--ttl", "1s"))
	time.Sleep(1500 * time.Millisecond)
	mustFail(t, "expired code", join("site-e", expired), "join code expired", "peerlink join-code create --name site-e")

	code := strings.TrimSpace(c.mustCLI("join-code", "create", "--name", "site-a"))
	p := c.start("agent-site-a", "agent", "--join", code, "--hub", c.hubURL, "--data", filepath.Join(c.dir, "agent-site-a"))
	c.waitAgent("site-a", true, p)
	mustFail(t, "reused code", join("site-a", code), "join code already used", "peerlink join-code create --name site-a")

	parsed, err := enrol.ParseCode(code)
	if err != nil {
		t.Fatal(err)
	}
	parsed.Secret = strings.Repeat("0", len(parsed.Secret))
	mustFail(t, "unknown code", join("site-a", parsed.String()), "unknown join code", "peerlink join-code create --name site-a")
	mustFail(t, "garbled code", join("site-a", "plj1:site-a:nonsense"), "not a join code", "peerlink join-code create")
	for _, name := range []string{"site-e"} {
		if known, _ := agentExists(t, c, name); known {
			t.Errorf("the hub lists %s, whose code was refused", name)
		}
	}
}

// A join against a server whose certificates do not match the code's CA
// hash (a man in the middle with a CA of its own) sends nothing: the
// server receives no HTTP request at all, and the agent says why.
func TestEnrolManInTheMiddle(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	code := strings.TrimSpace(c.mustCLI("join-code", "create", "--name", "site-a"))
	var requests atomic.Int64
	mitm := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.Error(w, "gotcha", http.StatusTeapot)
	}))
	defer mitm.Close()
	r := runPeerlink(t, nil, "agent", "--join", code, "--hub", mitm.URL, "--data", filepath.Join(c.dir, "agent-site-a"))
	mustFail(t, "join through a man in the middle", r, "do not match the join code's CA hash", "nothing was sent")
	if n := requests.Load(); n != 0 {
		t.Errorf("the man in the middle received %d HTTP requests, want none", n)
	}
	if _, err := os.Stat(filepath.Join(c.dir, "agent-site-a", "identity")); err == nil {
		t.Errorf("a refused join left an identity")
	}
	// The code was not used up: the real hub still takes it.
	p := c.start("agent-site-a", "agent", "--join", code, "--hub", c.hubURL, "--data", filepath.Join(c.dir, "agent-site-a"))
	c.waitAgent("site-a", true, p)
}

// Revoking an agent drops its connection at once; it cannot connect again,
// and exits saying how to enrol again; a new join code re-enrols it.
func TestEnrolRevoke(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	p := c.startAgent("site-a")
	data := filepath.Join(c.dir, "agent-site-a")
	out := c.mustCLI("agents", "revoke", "site-a")
	if !strings.Contains(out, "revoked") {
		t.Errorf("revoke printed %q", out)
	}
	if code := waitExit(t, p, 20*time.Second); code == 0 {
		t.Errorf("a revoked agent exited 0")
	}
	c.waitAgent("site-a", false, nil)
	if !strings.Contains(p.logTail(50), "credential was revoked") {
		t.Errorf("the revoked agent does not say why:\n%s", p.logTail(20))
	}
	p = c.start("agent-site-a", "agent", "--data", data)
	if code := waitExit(t, p, 20*time.Second); code == 0 {
		t.Errorf("a revoked agent reconnecting exited 0")
	}
	if s := p.logTail(50); !strings.Contains(s, "credential was revoked") || !strings.Contains(s, "peerlink join-code create --name site-a") {
		t.Errorf("the revoked agent does not say how to enrol again:\n%s", s)
	}
	if known, connected := agentExists(t, c, "site-a"); known && connected {
		t.Errorf("the revoked agent is connected")
	}
	if out := c.mustCLI("agents", "list"); !strings.Contains(out, "revoked") {
		t.Errorf("agents list does not show the revocation:\n%s", out)
	}
	mustFail(t, "revoke unknown", c.cli("agents", "revoke", "site-q"), "no agent \"site-q\" was enrolled", "peerlink agents list")
	p = c.start("agent-site-a", "agent", "--join", c.joinCode("site-a"), "--hub", c.hubURL, "--data", data)
	c.waitAgent("site-a", true, p)
}

// The broker takes an agent's name from its certificate: a Hello naming
// another host is refused, and so is a certificate from another CA; an
// enrolled agent told another --name refuses to start.
func TestEnrolIdentityFromCertificate(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	c.startAgent("site-a")
	c.startAgent("site-b")
	data := filepath.Join(c.dir, "agent-site-a")
	id, err := agent.LoadIdentity(data)
	if err != nil || id == nil {
		t.Fatalf("identity: %v", err)
	}
	conf, err := id.TLS("")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = broker.DialTLS(ctx, c.brokerWS, wire.Hello{Role: wire.RoleAgent, Name: "site-b", Version: "test"}, conf, zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), `certificate is for agent "site-a", but its hello claims to be agent "site-b"`) {
		t.Errorf("a hello naming site-b with site-a's certificate: %v", err)
	}
	_, err = broker.DialTLS(ctx, c.brokerWS, wire.Hello{Role: wire.RoleHub, Name: wire.HubName, Version: "test"}, conf, zerolog.Nop())
	if err == nil {
		t.Errorf("site-a's certificate was admitted as the hub")
	}
	if _, connected := agentExists(t, c, "site-b"); !connected {
		t.Errorf("site-b was disconnected by the impostor")
	}

	// A certificate for site-a from another CA. Go's client does not
	// offer it (the broker names the CA it accepts), so the broker sees
	// no certificate and says to join; a client that sends it anyway is
	// refused in the TLS handshake, and told the same.
	foreign := conf.Clone()
	fc := foreignClientCert(t, "site-a")
	foreign.Certificates = []tls.Certificate{fc}
	_, err = broker.DialTLS(ctx, c.brokerWS, wire.Hello{Role: wire.RoleAgent, Name: "site-a", Version: "test"}, foreign, zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), "admits agents by certificate") || !strings.Contains(err.Error(), "--join CODE") {
		t.Errorf("a certificate from another CA, not offered: %v", err)
	}
	foreign.Certificates = nil
	foreign.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &fc, nil }
	_, err = broker.DialTLS(ctx, c.brokerWS, wire.Hello{Role: wire.RoleAgent, Name: "site-a", Version: "test"}, foreign, zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), "not issued by this hub's CA") || !strings.Contains(err.Error(), "--join CODE") {
		t.Errorf("a certificate from another CA, sent anyway: %v", err)
	}
	if _, connected := agentExists(t, c, "site-a"); !connected {
		t.Errorf("the real site-a was disconnected by the impostors")
	}

	r := runPeerlink(t, nil, "agent", "--data", data, "--name", "site-b")
	mustFail(t, "enrolled agent with another --name", r, "this agent joined as site-a")
}

func foreignClientCert(t *testing.T, name string) tls.Certificate {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other CA"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: name, OrganizationalUnit: []string{"agent"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// Plain HTTP to the hub's TLS ports gets a clear answer, not a hang: the
// CLI and an agent given http:// or ws:// say to use https:// or wss://.
func TestEnrolPlainToTLSPorts(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	plainAPI := strings.Replace(c.hubURL, "https://", "http://", 1)
	resp, err := http.Get(plainAPI + "/api/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain HTTP to the API port: %s", resp.Status)
	}
	plainBroker := strings.Replace(c.brokerWS, "wss://", "http://", 1)
	resp, err = http.Get(plainBroker + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain HTTP to the broker port: %s", resp.Status)
	}
	r := runPeerlink(t, []string{"PEERLINK_HUB=" + plainAPI, "PEERLINK_TOKEN=" + c.apiToken}, "status")
	mustFail(t, "CLI over http:// to the TLS port", r, "https://")
	r = runPeerlink(t, nil, "agent", "--join", c.joinCode("site-a"), "--hub", plainAPI, "--data", filepath.Join(c.dir, "agent-x"))
	mustFail(t, "join over http://", r, "joining needs https://")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = broker.Dial(ctx, strings.Replace(c.brokerWS, "wss://", "ws://", 1), wire.Hello{Role: wire.RoleAgent, Name: "site-a"}, zerolog.Nop())
	if err == nil || !strings.Contains(err.Error(), "it serves TLS: use wss://") {
		t.Errorf("ws:// to the TLS broker port: %v", err)
	}
}

// --insecure-plain serves plain text on loopback only, unless told twice.
func TestEnrolInsecurePlain(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := runPeerlink(t, nil, "hub", "--data", filepath.Join(dir, "hub"), "--insecure-plain", "--listen", "0.0.0.0:0", "--broker-listen", "127.0.0.1:0")
	mustFail(t, "--insecure-plain on all interfaces", r, "--insecure-plain on 0.0.0.0:0", "listen on 127.0.0.1", "--insecure-plain-non-loopback")
	c := newCluster(t, "--insecure-plain")
	if !strings.HasPrefix(c.hubURL, "http://") {
		t.Fatalf("hub URL %s", c.hubURL)
	}
	c.startAgent("site-a")
	mustFail(t, "join code on a plain hub", c.cli("join-code", "create", "--name", "site-b"), "join codes need the hub's TLS")
}

// A hub upgraded from the shared token (a data directory of an older
// release) still admits agents by it, warning in status, until
// `peerlink agents require-certs`: then the token agent is dropped and
// refused, and the warning is gone.
func TestEnrolUpgradedHubRequireCerts(t *testing.T) {
	t.Parallel()
	c := startCluster(&cluster{t: t, dir: t.TempDir(), upgraded: true})
	c.startAgent("site-a") // joins
	p := c.start("agent-site-b", "agent", "--name", "site-b", "--broker", c.brokerWS, "--token-file", c.tokenFile(), "--ca", c.ca,
		"--data", filepath.Join(c.dir, "agent-site-b"))
	c.waitAgent("site-b", true, p)
	if out := c.mustCLI("status"); !strings.Contains(out, "WARNING: agents may still connect with the shared token") || !strings.Contains(out, "peerlink agents require-certs") {
		t.Errorf("status of an upgraded hub does not warn:\n%s", out)
	}
	c.mustCLI("agents", "require-certs")
	if code := waitExit(t, p, 20*time.Second); code == 0 {
		t.Errorf("the token agent exited 0")
	}
	if s := p.logTail(50); !strings.Contains(s, "admits agents by certificate") || !strings.Contains(s, "--join CODE") {
		t.Errorf("the token agent does not say to enrol:\n%s", s)
	}
	if out := c.mustCLI("status"); strings.Contains(out, "WARNING") {
		t.Errorf("status still warns:\n%s", out)
	}
	if _, connected := agentExists(t, c, "site-a"); !connected {
		t.Errorf("the enrolled agent was dropped")
	}
	// For good: the hub restarted still refuses the token.
	c.proc("hub").stop()
	c.startHub()
	p = c.start("agent-site-b", "agent", "--name", "site-b", "--broker", c.brokerWS, "--token-file", c.tokenFile(), "--ca", c.ca,
		"--data", filepath.Join(c.dir, "agent-site-b"))
	if code := waitExit(t, p, 20*time.Second); code == 0 {
		t.Errorf("the token agent was admitted after a restart")
	}
}
