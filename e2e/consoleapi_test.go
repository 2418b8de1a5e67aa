//go:build linux

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/peerlink/peerlink/web/api"
)

// browser is what the console does over HTTP: a cookie session and the
// CSRF token its changes carry.
type browser struct {
	t    *testing.T
	base string
	http *http.Client
	csrf string
}

func newBrowser(t *testing.T, base, ca string) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, base: base, http: &http.Client{Jar: jar, Timeout: time.Minute, Transport: trusting(t, ca)}}
}

// call sends a request, with the CSRF token if withCSRF, and decodes a
// JSON answer into out; it returns the status code.
func (b *browser) call(method, path string, in, out any, withCSRF bool) int {
	b.t.Helper()
	var body io.Reader
	if in != nil {
		j, err := json.Marshal(in)
		if err != nil {
			b.t.Fatal(err)
		}
		body = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if withCSRF {
		req.Header.Set("X-CSRF-Token", b.csrf)
	}
	resp, err := b.http.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			b.t.Fatalf("%s %s: %d %q: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

// must sends a request with the CSRF token and fails the test unless it
// answers want.
func (b *browser) must(method, path string, in, out any, want int) {
	b.t.Helper()
	if code := b.call(method, path, in, out, true); code != want {
		b.t.Fatalf("%s %s: status %d, want %d", method, path, code, want)
	}
}

// TestConsoleAPI drives the console's side of the hub as a browser does,
// against a real hub and two agents: sign-in with the password file, the
// cookie and CSRF rules, the live feed's notice of a new conflict, the
// diff of a text and of a binary file, and the resolution's audit trail.
func TestConsoleAPI(t *testing.T) {
	t.Parallel()
	pwFile := filepath.Join(t.TempDir(), "admin-password")
	const password = "a console password"
	if err := os.WriteFile(pwFile, []byte("  "+password+"  \nsecond line ignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, "--admin-password-file", pwFile)
	for _, h := range hostsAB {
		c.startAgent(h)
	}
	if strings.Contains(c.proc("hub").logTail(200), "console sign-in: user admin, password") {
		t.Error("the hub printed a generated password although it was given one")
	}

	b := newBrowser(t, c.hubURL, c.ca)
	if code := b.call("GET", "/api/v1/sessions", nil, nil, false); code != 401 {
		t.Fatalf("sessions before signing in: status %d, want 401", code)
	}
	if code := b.call("POST", "/api/v1/login", api.LoginRequest{Password: "not it"}, nil, false); code != 401 {
		t.Fatalf("a wrong password: status %d, want 401", code)
	}
	var me api.Me
	if code := b.call("POST", "/api/v1/login", api.LoginRequest{Password: password}, &me, false); code != 200 || me.User != "admin" || me.CSRF == "" {
		t.Fatalf("sign in with the password file's: status %d, %+v", code, me)
	}
	b.csrf = me.CSRF
	var sessions []api.Session
	b.must("GET", "/api/v1/sessions", nil, &sessions, 200)
	if len(sessions) != 0 {
		t.Errorf("sessions of a new hub: %+v", sessions)
	}

	cfg := api.SessionConfig{Name: "web", Hosts: []api.HostRoot{{Host: "site-a", Root: c.root("site-a")}, {Host: "site-b", Root: c.root("site-b")}}}
	cfg.Options.Resolver = "manual"
	if code := b.call("POST", "/api/v1/sessions", cfg, nil, false); code != 403 {
		t.Fatalf("a change without the CSRF token: status %d, want 403", code)
	}
	b.must("POST", "/api/v1/sessions", cfg, nil, 201)
	b.must("POST", "/api/v1/sessions/web/start", nil, nil, 200)
	c.waitRunning("web", time.Time{}, 60*time.Second)

	// The live feed, opened as the console's page does: cookie and Origin.
	wsURL := "ws" + strings.TrimPrefix(c.hubURL, "http") + "/api/v1/live"
	hubURL, _ := url.Parse(c.hubURL)
	h := http.Header{"Origin": {c.hubURL}}
	for _, ck := range b.http.Jar.Cookies(hubURL) {
		h.Add("Cookie", ck.String())
	}
	ws, _, err := (&websocket.Dialer{TLSClientConfig: trusting(t, c.ca).(*http.Transport).TLSClientConfig}).Dial(wsURL, h)
	if err != nil {
		t.Fatalf("live feed: %v", err)
	}
	defer ws.Close()
	notices := noticesOf(ws)
	waitNotice(t, notices, api.Notice{Kind: "hello"})

	// Conflicting copies made while the session is stopped: the manual
	// resolver lists them when it starts again.
	b.must("POST", "/api/v1/sessions/web/stop", nil, nil, 200)
	textA, textB := "one\ntwo\nthree\n", "one\n2\nthree\nfour\n"
	writeFile(t, c.root("site-a"), "docs/notes.txt", textA, tAt(0))
	writeFile(t, c.root("site-b"), "docs/notes.txt", textB, tAt(time.Hour))
	writeFile(t, c.root("site-a"), "image.bin", "\x89PNG\x00\x01\x02", tAt(0))
	writeFile(t, c.root("site-b"), "image.bin", "\x89PNG\x00\x03\x04\x05", tAt(time.Hour))
	b.must("POST", "/api/v1/sessions/web/start", nil, nil, 200)
	waitNotice(t, notices, api.Notice{Kind: "conflicts", Session: "web"})
	c.waitRunning("web", time.Time{}, 60*time.Second)

	var list []api.Conflict
	b.must("GET", "/api/v1/sessions/web/conflicts", nil, &list, 200)
	if len(list) != 2 || list[0].Path != "docs/notes.txt" || list[1].Path != "image.bin" {
		t.Fatalf("conflicts %+v, want docs/notes.txt and image.bin", list)
	}
	if me, err := user.Current(); err == nil {
		for _, cp := range list[0].Copies {
			if cp.User != me.Username {
				t.Errorf("the copy on %s is listed as %q's, want %q's (the files' owner)", cp.Host, cp.User, me.Username)
			}
		}
	}

	var d api.Diff
	b.must("GET", "/api/v1/sessions/web/diff?path=docs/notes.txt&a=site-a&b=site-b", nil, &d, 200)
	if d.A.Host != "site-a" || d.A.Text != textA || d.B.Host != "site-b" || d.B.Text != textB || d.A.Binary || d.B.Binary {
		t.Errorf("diff of the text file: %+v", d)
	}
	if d.A.Size != int64(len(textA)) || d.A.Hash != sha256Hex(textA) || !d.B.Exists {
		t.Errorf("diff sides lack size, hash or existence: %+v", d)
	}
	d = api.Diff{}
	b.must("GET", "/api/v1/sessions/web/diff?path=image.bin&a=site-a&b=site-b", nil, &d, 200)
	if !d.A.Binary || !d.B.Binary || d.A.Text != "" || d.B.Text != "" || d.A.Size != 7 || d.B.Size != 8 {
		t.Errorf("diff of the binary file: %+v", d)
	}
	d = api.Diff{}
	b.must("GET", "/api/v1/sessions/web/diff?path=missing.txt&a=site-a&b=site-b", nil, &d, 200)
	if d.A.Exists || d.B.Exists || d.A.Error != "" {
		t.Errorf("diff of a path on no host: %+v", d)
	}
	if code := b.call("GET", "/api/v1/sessions/web/diff?path=a.txt&a=site-a&b=site-x", nil, nil, false); code != 400 {
		t.Errorf("diff with a host outside the session: status %d, want 400", code)
	}

	// The resolution is recorded with who made it.
	var res api.ResolveResult
	if code := b.call("POST", "/api/v1/sessions/web/conflicts/resolve", api.ResolveRequest{Path: "docs/notes.txt", Winner: "site-b"}, nil, false); code != 403 {
		t.Errorf("a resolution without the CSRF token: status %d, want 403", code)
	}
	b.must("POST", "/api/v1/sessions/web/conflicts/resolve", api.ResolveRequest{Path: "docs/notes.txt", Winner: "site-b"}, &res, 200)
	waitNotice(t, notices, api.Notice{Kind: "conflicts", Session: "web"})
	holds(t, c, "docs/notes.txt", fileAt{textB, tAt(time.Hour)}, hostsAB...)
	var evs []api.Event
	b.must("GET", "/api/v1/sessions/web/events?kind=conflict-resolved&q=NOTES", nil, &evs, 200)
	if len(evs) != 1 || evs[0].User != "admin (console, 127.0.0.1)" || evs[0].Host != "site-b" {
		t.Errorf("resolution events: %+v, want one by the console", evs)
	}
	// The CLI's token still reaches the same resources.
	if _, err := c.client().Events(context.Background(), "web", api.EventQuery{Kind: "conflict-resolved"}); err != nil {
		t.Errorf("events with the token: %v", err)
	}

	if code := b.call("POST", "/api/v1/logout", nil, nil, true); code != 204 {
		t.Errorf("sign out: status %d", code)
	}
	if code := b.call("GET", "/api/v1/sessions", nil, nil, false); code != 401 {
		t.Errorf("sessions after signing out: status %d, want 401", code)
	}
}
