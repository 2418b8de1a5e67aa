//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Input that was accepted but wrong: every count and duration of a
// session's definition is bounded, roots and exclude patterns hold nothing
// no path can, a body is one JSON value, and session names are unique
// ignoring case. Each refusal names the field and what is allowed.

// rawAPI sends body to the hub's API with the token and returns the status
// and the answer's body.
func (c *cluster) rawAPI(method, path, body string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.hubURL+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.apiToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: time.Minute, Transport: trusting(c.t, c.ca)}).Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// noSessions fails the test unless the hub holds exactly the sessions
// named.
func noSessionsBut(t *testing.T, c *cluster, names ...string) {
	t.Helper()
	list, err := c.client().Sessions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range list {
		got = append(got, s.Name)
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("sessions %v, want %v", got, names)
	}
}

// sessionBody is a definition of session name over site-a and site-b's
// roots with extra fields (`"protect_days":7`) added.
func sessionBody(c *cluster, name, extra string) string {
	b := fmt.Sprintf(`{"name":%q,"hosts":[{"host":"site-a","root":%q},{"host":"site-b","root":%q}]`, name, c.root("site-a"), c.root("site-b"))
	if extra != "" {
		b += "," + extra
	}
	return b + "}"
}

// apiRefused fails the test unless the API answers want to the request,
// with an error that says every one of says.
func apiRefused(t *testing.T, c *cluster, what, method, path, body string, want int, says ...string) {
	t.Helper()
	code, answer := c.rawAPI(method, path, body)
	if code != want {
		t.Errorf("%s: %d %s, want %d", what, code, answer, want)
		return
	}
	for _, s := range says {
		if !strings.Contains(answer, s) {
			t.Errorf("%s: the answer %s does not say %q", what, answer, s)
		}
	}
}

// --protect-days beyond what the agent can count (999999 days put the
// cutoff in the future and every protected copy was removed) is refused
// by the CLI and the API, naming the field and the range; --lock-grace
// likewise. A protected copy survives a start with the largest value.
func TestInputProtectDaysBounded(t *testing.T) {
	t.Parallel()
	c := optCluster(t, hostsAB...)
	a := c.root("site-a")
	for _, days := range []string{"999999", "106752", "4611686018427387904", "3651", "-1"} {
		mustFail(t, "create --protect-days "+days, c.cli("session", "create", "p", "--host", "site-a="+a,
			"--host", "site-b="+c.root("site-b"), "--protect-days", days), "--protect-days", "1 to 3650")
		apiRefused(t, c, "POST protect_days "+days, "POST", "/api/v1/sessions", sessionBody(c, "p", `"protect_days":`+days),
			http.StatusBadRequest, "protect_days", "from 1 to 3650")
	}
	for _, g := range []string{"169h", "2562047h"} {
		mustFail(t, "create --lock-grace "+g, c.cli("session", "create", "p", "--host", "site-a="+a,
			"--host", "site-b="+c.root("site-b"), "--lock-grace", g), "--lock-grace", "from 0s to 168h0m0s")
		apiRefused(t, c, "POST lock_grace "+g, "POST", "/api/v1/sessions", sessionBody(c, "p", `"lock_grace":"`+g+`"`),
			http.StatusBadRequest, "lock_grace", "from 0s to 168h0m0s")
	}
	noSessionsBut(t, c)

	t1, t2 := fileAt{"t as synchronised\n", tAt(0)}, fileAt{"t edited on a\n", tAt(time.Hour)}
	put(t, c, "t.txt", t1, "site-a")
	c.createSession("p", hostsAB, "--protect-days", "7")
	startClean(t, c, "p")
	offline(t, c, "p", func() { put(t, c, "t.txt", t2, "site-a") })
	protects(t, c, "site-b", "t.txt", t1)

	c.mustCLI("session", "stop", "p")
	mustFail(t, "set --protect-days 999999", c.cli("session", "set", "p", "--protect-days", "999999"), "--protect-days", "1 to 3650")
	apiRefused(t, c, "PUT protect_days 999999", "PUT", "/api/v1/sessions/p", sessionBody(c, "p", `"protect_days":999999`),
		http.StatusBadRequest, "protect_days", "from 1 to 3650")
	if s := c.session("p"); s.ProtectDays != 7 {
		t.Errorf("refused changes left protect days at %d, want 7", s.ProtectDays)
	}
	c.mustCLI("session", "set", "p", "--protect-days", "3650")
	startClean(t, c, "p") // attaching prunes the protected area
	protects(t, c, "site-b", "t.txt", t1)
	holds(t, c, "t.txt", t2, hostsAB...)
}

// Roots and exclude patterns holding what no path can, too many or too
// long patterns, a body with more after its JSON value, and a name that
// differs from another session's only in case: each is refused at once,
// naming the field and what is allowed, and nothing is created.
func TestInputSessionDefinitionChecked(t *testing.T) {
	t.Parallel()
	c := optCluster(t, hostsAB...)
	a, b := c.root("site-a"), c.root("site-b")
	hosts := func(rootB string) string {
		return `"hosts":[{"host":"site-a","root":` + jsonString(a) + `},{"host":"site-b","root":` + jsonString(rootB) + `}]`
	}
	for _, tc := range []struct{ what, body, field, says string }{
		{"a root with NUL", `{"name":"x",` + hosts(b+"\x00evil") + `}`, "hosts[1].root", "NUL"},
		{"a root with a newline", `{"name":"x",` + hosts(b+"\n") + `}`, "hosts[1].root", "a newline"},
		{"an exclude pattern with NUL", sessionBody(c, "x", `"exclude":["*.bak","a\u0000b"]`), "exclude[1]", "NUL"},
		{"1001 exclude patterns", sessionBody(c, "x", `"exclude":[`+patterns(1001)+`]`), "exclude", "at most 1000"},
		{"a pattern of 1025 bytes", sessionBody(c, "x", `"exclude":["`+strings.Repeat("p", 1025)+`"]`), "exclude[0]", "longer than 1024"},
	} {
		apiRefused(t, c, "POST "+tc.what, "POST", "/api/v1/sessions", tc.body, http.StatusBadRequest, tc.field, tc.says)
	}
	mustFail(t, "create with a newline in a root", c.cli("session", "create", "x", "--host", "site-a="+a, "--host", "site-b="+b+"\nevil"),
		"hosts[1].root", "a newline", "without control characters")
	mustFail(t, "create with a pattern of 1025 bytes", c.cli("session", "create", "x", "--host", "site-a="+a, "--host", "site-b="+b,
		"--exclude", strings.Repeat("p", 1025)), "exclude[0]", "longer than 1024")
	for _, trailing := range []string{`{}`, `x`, `]`, `{"name":"y"}`} {
		apiRefused(t, c, "POST with "+trailing+" after the body", "POST", "/api/v1/sessions", sessionBody(c, "x", "")+trailing,
			http.StatusBadRequest, "more than one JSON value")
	}
	noSessionsBut(t, c)

	// Whitespace after the value is fine, and 1000 patterns are allowed.
	code, body := c.rawAPI("POST", "/api/v1/sessions", sessionBody(c, "s", `"exclude":[`+patterns(1000)+`]`)+"\n\t ")
	if code != http.StatusCreated {
		t.Fatalf("POST with 1000 patterns and trailing whitespace: %d %s, want 201", code, body)
	}
	apiRefused(t, c, "PUT with trailing data", "PUT", "/api/v1/sessions/s", sessionBody(c, "s", "")+`{}`,
		http.StatusBadRequest, "more than one JSON value")
	apiRefused(t, c, "resolve with trailing data", "POST", "/api/v1/sessions/s/conflicts/resolve", `{"path":"x","winner":"site-a"} 1`,
		http.StatusBadRequest, "more than one JSON value")

	// Roots that overlap no other session's: only the name is wrong.
	otherA, otherB := filepath.Join(c.dir, "roots", "other-a"), filepath.Join(c.dir, "roots", "other-b")
	mustFail(t, "create s again", c.cli("session", "create", "s", "--host", "site-a="+otherA, "--host", "site-b="+otherB),
		"session s already exists")
	mustFail(t, "create S beside s", c.cli("session", "create", "S", "--host", "site-a="+otherA, "--host", "site-b="+otherB),
		"already exists as s", "unique ignoring case")
	apiRefused(t, c, "POST S beside s", "POST", "/api/v1/sessions",
		fmt.Sprintf(`{"name":"S","hosts":[{"host":"site-a","root":%q},{"host":"site-b","root":%q}]}`, otherA, otherB),
		http.StatusConflict, "already exists as s")
	noSessionsBut(t, c, "s")
}

func jsonString(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// patterns returns n distinct JSON strings.
func patterns(n int) string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`"*.x%d"`, i)
	}
	return strings.Join(out, ",")
}
