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
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/web/certs"
	"github.com/peerlink/peerlink/wire"
)

// TestTLS runs a hub serving HTTPS and wss:// with a certificate for
// 127.0.0.1 signed by a private CA: agents and the CLI given the CA
// synchronise a session; an agent or the CLI without it is refused with a
// certificate error; plain HTTP and ws:// to the TLS ports get nothing;
// the console's sign-in cookie is Secure.
func TestTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca, cert, key := writeTestPKI(t, filepath.Join(dir, "pki"))
	pwFile := filepath.Join(dir, "admin-password")
	const password = "a console password"
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Upgraded from the shared token, so that an agent given the token
	// meets the certificate check below; startAgent's agents join.
	c := startCluster(&cluster{t: t, dir: dir, ca: ca, upgraded: true,
		hubArgs:   []string{"--tls-cert", cert, "--tls-key", key, "--admin-password-file", pwFile},
		agentArgs: []string{"--ca", ca}})
	if !strings.HasPrefix(c.hubURL, "https://") || !strings.HasPrefix(c.brokerWS, "wss://") {
		t.Fatalf("cluster URLs %s and %s, want https:// and wss://", c.hubURL, c.brokerWS)
	}
	hubLog, _ := os.ReadFile(c.proc("hub").log)
	for _, want := range []string{`"url":"` + c.hubURL + `"`, `"url":"` + c.brokerWS + `/ws"`} {
		if !strings.Contains(string(hubLog), want) {
			t.Errorf("hub log lacks %s:\n%s", want, hubLog)
		}
	}

	// Agents with --ca connect over wss://, which also shows the hub
	// reached its own broker (it reports the agents it hears of from it).
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	writeFile(t, c.root("site-a"), "docs/plan.txt", "sent over TLS\n", base)
	c.startAgent("site-a")
	c.startAgent("site-b")
	c.createSession("tls", []string{"site-a", "site-b"}, "--ca", ca)
	c.mustCLI("session", "start", "tls", "--wait", "--ca", ca)
	if got := readFile(t, c.root("site-b"), "docs/plan.txt"); got != "sent over TLS\n" {
		t.Errorf("site-b's docs/plan.txt = %q after the start, want site-a's content", got)
	}
	writeFile(t, c.root("site-b"), "live.txt", "live over TLS\n", base.Add(time.Hour))
	waitFor(t, 30*time.Second, "live.txt to reach site-a", func() bool {
		b, err := os.ReadFile(filepath.Join(c.root("site-a"), "live.txt"))
		return err == nil && string(b) == "live over TLS\n"
	})

	t.Run("agent without --ca is refused", func(t *testing.T) {
		p := c.start("agent-site-c", "agent", "--name", "site-c", "--broker", c.brokerWS, "--token-file", c.tokenFile(),
			"--data", filepath.Join(dir, "agent-site-c"))
		const want = "certificate not trusted: tls: failed to verify certificate: x509: certificate signed by unknown authority"
		// Twice: the agent keeps trying, and is refused again.
		waitFor(t, 20*time.Second, "site-c's certificate error, twice", func() bool {
			b, _ := os.ReadFile(p.log)
			return strings.Count(string(b), want) >= 2 || p.exited()
		})
		if b, _ := os.ReadFile(p.log); !strings.Contains(string(b), want) || !strings.Contains(string(b), "--ca") {
			t.Fatalf("site-c's log lacks %q and the --ca advice:\n%s", want, b)
		}
		st, err := c.client().Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range st.Agents {
			if a.Name == "site-c" {
				t.Errorf("the hub knows site-c (connected %v), which should never have got past TLS", a.Connected)
			}
		}
		p.stop()
	})

	t.Run("CLI without --ca is refused", func(t *testing.T) {
		r := c.cli("status")
		if r.code == 0 || !strings.Contains(r.stderr, "certificate not trusted") || !strings.Contains(r.stderr, "unknown authority") ||
			!strings.Contains(r.stderr, "--ca FILE") {
			t.Errorf("status without --ca: exit %d, stderr %q; want a failure naming the untrusted certificate and --ca", r.code, r.stderr)
		}
		r = c.cli("status", "--ca", filepath.Join(dir, "missing.pem"))
		if r.code == 0 || !strings.Contains(r.stderr, "--ca: open "+filepath.Join(dir, "missing.pem")) {
			t.Errorf("status --ca missing.pem: exit %d, stderr %q; want the missing file named", r.code, r.stderr)
		}
		if out := c.mustCLI("status", "--ca", ca); !strings.Contains(out, "site-a") {
			t.Errorf("status --ca: %q lacks site-a", out)
		}
	})

	t.Run("plain text to the TLS ports gets nothing", func(t *testing.T) {
		plain := api.NewClient(strings.Replace(c.hubURL, "https://", "http://", 1), c.apiToken)
		_, err := plain.Status(context.Background())
		if err == nil || !strings.Contains(err.Error(), "serves HTTPS") {
			t.Errorf("status over http:// to the TLS port: %v; want a refusal saying it serves HTTPS", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d, err := broker.Dial(ctx, strings.Replace(c.brokerWS, "wss://", "ws://", 1),
			wire.Hello{Role: wire.RoleAgent, Name: "site-p", Protocol: wire.ProtocolVersion, Token: c.token}, zerolog.Nop())
		if err == nil {
			d.Close()
			t.Fatal("a ws:// dial of the wss:// broker connected")
		}
		if !strings.Contains(err.Error(), "use wss://") {
			t.Errorf("ws:// dial of the TLS broker: %v; want advice to use wss://", err)
		}
	})

	t.Run("sign-in cookie is Secure", func(t *testing.T) {
		conf, err := certs.Client(ca)
		if err != nil {
			t.Fatal(err)
		}
		hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: conf}}
		resp, err := hc.Post(c.hubURL+"/api/v1/login", "application/json", strings.NewReader(fmt.Sprintf(`{"password":%q}`, password)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
			t.Fatalf("sign-in over HTTPS: status %d, TLS %v", resp.StatusCode, resp.TLS)
		}
		cookies := resp.Cookies()
		if len(cookies) == 0 {
			t.Fatal("sign-in set no cookie")
		}
		for _, ck := range cookies {
			if !ck.Secure || !ck.HttpOnly {
				t.Errorf("cookie %s: Secure %v, HttpOnly %v; want both over HTTPS", ck.Name, ck.Secure, ck.HttpOnly)
			}
		}
	})
}

// writeTestPKI writes a CA certificate and a server certificate for
// 127.0.0.1 that it signed, with the server's key, under dir.
func writeTestPKI(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "peerlink test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.crt", "CERTIFICATE", caDER), write("hub.crt", "CERTIFICATE", srvDER), write("hub.key", "PRIVATE KEY", keyDER)
}
