//go:build linux

package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/web/certs"
	"github.com/peerlink/peerlink/web/enrol"
)

// joinFrom posts a join request for code to the cluster's hub from the
// loopback address from (127.0.0.x: each is an address of its own to the
// hub), and returns the status, the problem's text and Retry-After.
func joinFrom(t *testing.T, c *cluster, from string, code enrol.Code) (int, string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := enrol.NewCSR(code.Name, key)
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(enrol.Request{Name: code.Name, Secret: code.Secret, CSR: csr})
	if err != nil {
		t.Fatal(err)
	}
	conf, err := certs.Client(c.ca)
	if err != nil {
		t.Fatal(err)
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	tr := &http.Transport{TLSClientConfig: conf, DialContext: d.DialContext}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: time.Minute}
	resp, err := hc.Post(c.hubURL+enrol.Path, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("join from %s: %v", from, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var p struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(b, &p)
	return resp.StatusCode, p.Error, resp.Header.Get("Retry-After")
}

// heldJoin opens a join from 127.0.0.1 whose body never comes: the hub
// holds one of the address's places for it until the connection closes.
func heldJoin(t *testing.T, c *cluster) net.Conn {
	t.Helper()
	conf, err := certs.Client(c.ca)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", strings.TrimPrefix(c.hubURL, "https://"), conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{", enrol.Path)
	return conn
}

// A flood of joins from one address is refused with 429 (issue 12: the
// join endpoint is bounded as sign-ins are): two joins whose bodies
// trickle take the address's places and a third is refused at once; ten
// refused codes within a minute refuse the address's next joins, a good
// code's too, saying when to try again, while another address still
// enrols.
func TestJoinFloodFromOneAddress(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	siteA, err := enrol.ParseCode(c.joinCode("site-a"))
	if err != nil {
		t.Fatal(err)
	}
	bad := func(name string) enrol.Code {
		code, err := enrol.NewCode(name, siteA.CAHash) // a fresh secret the hub never made
		if err != nil {
			t.Fatal(err)
		}
		return code
	}
	good := func(name string) enrol.Code {
		code, err := enrol.ParseCode(c.joinCode(name))
		if err != nil {
			t.Fatal(err)
		}
		return code
	}

	// Joins served at once from one address. The hub takes a held join's
	// place once it has read its headers, which the test cannot see: it
	// joins with good codes (which cost no strike) until one is refused.
	held := []net.Conn{heldJoin(t, c), heldJoin(t, c)}
	var code int
	var msg, retry string
	waitFor(t, 30*time.Second, "a third join at once from 127.0.0.1 to be refused", func() bool {
		code, msg, retry = joinFrom(t, c, "127.0.0.1", good("probe"))
		return code != http.StatusOK
	})
	if code != http.StatusTooManyRequests || !strings.Contains(msg, "too many requests at once from this address") || retry == "" {
		t.Fatalf("a third join at once: %d %q (Retry-After %q), want 429 saying too many at once, with Retry-After", code, msg, retry)
	}
	for _, conn := range held {
		conn.Close()
	}

	// Refused codes from one address: the first ten say what is wrong,
	// the eleventh, and a good code after them, get 429.
	for i := range 10 {
		if code, msg, _ := joinFrom(t, c, "127.0.0.3", bad("site-x")); code != http.StatusForbidden || !strings.Contains(msg, "unknown join code") {
			t.Fatalf("refused join %d: %d %q, want 403 unknown join code", i+1, code, msg)
		}
	}
	code, msg, retry = joinFrom(t, c, "127.0.0.3", bad("site-x"))
	if code != http.StatusTooManyRequests || !strings.Contains(msg, "too many refused joins from 127.0.0.3") || !strings.Contains(msg, "peerlink join-code create") || retry == "" {
		t.Fatalf("the eleventh refused join: %d %q (Retry-After %q), want 429 saying when to try again and what with", code, msg, retry)
	}
	if code, msg, _ := joinFrom(t, c, "127.0.0.3", siteA); code != http.StatusTooManyRequests {
		t.Fatalf("a good code from the flooding address: %d %q, want 429", code, msg)
	}
	// The good code was not used up by the refusal: another address joins with it.
	if code, msg, _ := joinFrom(t, c, "127.0.0.4", siteA); code != http.StatusOK {
		t.Fatalf("a good code from another address: %d %q, want 200", code, msg)
	}
	if out := c.mustCLI("agents", "list"); !strings.Contains(out, "site-a") {
		t.Errorf("site-a is not enrolled after its join:\n%s", out)
	}
}
