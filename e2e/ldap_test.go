//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/peerlink/peerlink/testkit/slapd"
	"github.com/peerlink/peerlink/web/api"
)

// consoleClient is a browser's view of the REST API: a cookie jar, and
// the CSRF token of its sign-in.
type consoleClient struct {
	t    *testing.T
	url  string
	hc   *http.Client
	csrf string
}

func newConsoleClient(t *testing.T, c *cluster) *consoleClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &consoleClient{t: t, url: c.hubURL, hc: &http.Client{Jar: jar, Transport: trusting(t, c.ca), Timeout: time.Minute}}
}

// call sends one request with the sign-in's cookie and CSRF token and
// returns the status and the problem's text (or the body).
func (cc *consoleClient) call(method, path string, body any) (int, string, []byte) {
	cc.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, cc.url+"/api/v1"+path, rd)
	if err != nil {
		cc.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", cc.csrf)
	resp, err := cc.hc.Do(req)
	if err != nil {
		cc.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var p api.Problem
	_ = json.Unmarshal(b, &p)
	return resp.StatusCode, p.Error, b
}

// login signs in and returns the status, the problem's text and the role.
func (cc *consoleClient) login(user, password string) (int, string, api.Role) {
	cc.t.Helper()
	code, msg, b := cc.call(http.MethodPost, "/login", api.LoginRequest{User: user, Password: password})
	var me api.Me
	if code == http.StatusOK {
		if err := json.Unmarshal(b, &me); err != nil {
			cc.t.Fatal(err)
		}
		cc.csrf = me.CSRF
	}
	return code, msg, me.Role
}

// Sign-in against a real LDAP server through the hub (issue 12, point 5):
// the hub runs with the --ldap-* flags against slapd, and people without a
// local account sign in to the console's REST login with their directory
// password. A member of the admin group is an admin; a member of the
// helpdesk group is a helpdesk, who may release a lock but not create a
// session (403 naming the role); a person in no mapped group is refused
// saying so; with slapd stopped, the sign-in fails with "directory
// unavailable" at once rather than hanging. Once through the console in
// Chromium too, where it is installed.
func TestLDAPSignInThroughTheHub(t *testing.T) {
	dir := slapd.Start(t)
	pw := filepath.Join(t.TempDir(), "ldap-bind.pw")
	if err := os.WriteFile(pw, []byte(slapd.ServicePassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, "--ldap-url", dir.URL, "--ldap-bind-dn", slapd.ServiceDN, "--ldap-bind-password-file", pw,
		"--ldap-base", slapd.PeopleDN, "--ldap-group-base", slapd.GroupsDN,
		"--ldap-group-role", "admin=cn=peerlink-admins,"+slapd.GroupsDN,
		"--ldap-group-role", "helpdesk=cn=helpdesk,"+slapd.GroupsDN,
		"--ldap-timeout", "2s")
	c.startAgent("site-a")
	c.startAgent("site-b")
	c.createSession("ld", []string{"site-a", "site-b"})

	alice := newConsoleClient(t, c)
	if code, msg, role := alice.login("alice", "alice-secret"); code != http.StatusOK || role != api.RoleAdmin {
		t.Fatalf("alice (peerlink-admins): %d %q role %q, want 200 admin", code, msg, role)
	}
	if code, msg, _ := alice.call(http.MethodGet, "/tokens", nil); code != http.StatusOK {
		t.Errorf("alice lists tokens: %d %q, want 200", code, msg)
	}

	harry := newConsoleClient(t, c)
	if code, msg, role := harry.login("harry", "harry-secret"); code != http.StatusOK || role != api.RoleHelpdesk {
		t.Fatalf("harry (helpdesk): %d %q role %q, want 200 helpdesk", code, msg, role)
	}
	cfg := api.SessionConfig{Name: "new", Hosts: []api.HostRoot{{Host: "site-a", Root: c.root("site-a")}, {Host: "site-b", Root: c.root("site-b")}}}
	code, msg, _ := harry.call(http.MethodPost, "/sessions", cfg)
	if code != http.StatusForbidden || !strings.Contains(msg, "needs the admin role") || !strings.Contains(msg, "the helpdesk role") {
		t.Errorf("harry creates a session: %d %q, want 403 naming the admin role and his", code, msg)
	}
	// The release is let through to the hub, which finds no lock there.
	code, msg, _ = harry.call(http.MethodPost, "/sessions/ld/locks/release", api.ReleaseRequest{Path: "plan.txt"})
	if code == http.StatusForbidden || !strings.Contains(msg, "holds no lock") {
		t.Errorf("harry releases a lock: %d %q, want it allowed (the hub then says the path holds no lock)", code, msg)
	}

	nora := newConsoleClient(t, c)
	if code, msg, _ := nora.login("nora", "nora-secret"); code != http.StatusForbidden || !strings.Contains(msg, "none of their groups maps to a peerlink role") {
		t.Errorf("nora (accounting only): %d %q, want 403 saying no group maps to a role", code, msg)
	}
	if code, msg, _ := newConsoleClient(t, c).login("alice", "not her password"); code != http.StatusUnauthorized {
		t.Errorf("alice with a wrong password: %d %q, want 401", code, msg)
	}

	if _, err := os.Stat(chromiumPath); err == nil {
		b := newChrome(t, filepath.Join(c.dir, "chromium"), hubSPKI(t, c))
		b.do(chromedp.Navigate(c.hubURL + "/#/"))
		b.waitJS("the sign-in form", `!!document.querySelector('#user')`)
		b.do(chromedp.SetValue("#user", "nora"), chromedp.SendKeys(chromedp.ID("password"), "nora-secret"))
		b.click("#signin-button")
		b.waitText("#signin-error", "none of their groups maps to a peerlink role")
		b.do(chromedp.SetValue("#user", "harry"), chromedp.SendKeys(chromedp.ID("password"), "harry-secret"))
		b.click("#signin-button")
		b.waitText("#who", "harry (helpdesk)")
		b.waitJS("the dashboard", `!!document.querySelector('#sessions table')`)
		if b.eval(`!!document.querySelector('#new-session')`) {
			t.Errorf("a helpdesk signed in from the directory sees New session")
		}
	} else {
		t.Logf("no %s: the console part is left out", chromiumPath)
	}

	// The directory goes down: the sign-in fails, saying so, and bounded
	// by --ldap-timeout (the client's own minute would catch a hang).
	dir.Stop()
	start := time.Now()
	code, msg, _ = newConsoleClient(t, c).login("alice", "alice-secret")
	if code != http.StatusServiceUnavailable || !strings.Contains(msg, "directory unavailable") {
		t.Errorf("alice with the directory down: %d %q, want 503 directory unavailable", code, msg)
	}
	t.Logf("sign-in with the directory down answered in %s", time.Since(start).Round(time.Millisecond))
	// People signed in before keep their sign-in.
	if code, msg, _ := alice.call(http.MethodGet, "/tokens", nil); code != http.StatusOK {
		t.Errorf("alice, signed in before the directory went down: %d %q", code, msg)
	}
}
