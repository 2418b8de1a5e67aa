package web

import (
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"testing"

	"github.com/peerlink/peerlink/web/api"
)

func TestEventsQuery(t *testing.T) {
	for _, tc := range []struct {
		name     string
		query    string
		wantCode int
		want     api.EventQuery
	}{
		{"no parameters", "", 200, api.EventQuery{}},
		{"every filter", "?limit=50&before=120&kind=conflict-resolved&q=Report", 200, api.EventQuery{Limit: 50, Before: 120, Kind: "conflict-resolved", Q: "Report"}},
		{"a limit over the most is capped", "?limit=5000", 200, api.EventQuery{Limit: api.MaxEvents}},
		{"a text with spaces", "?q=the+copy+on", 200, api.EventQuery{Q: "the copy on"}},
		{"a limit that is no number", "?limit=ten", 400, api.EventQuery{}},
		{"a negative limit", "?limit=-1", 400, api.EventQuery{}},
		{"a before that is no number", "?before=x", 400, api.EventQuery{}},
		{"a text too long", "?q=" + strings.Repeat("a", maxQueryText+1), 400, api.EventQuery{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, f, _ := newTestServer(t)
			w := do(t, s, request{method: "GET", path: "/api/v1/sessions/s/events" + tc.query, token: testToken})
			if w.Code != tc.wantCode {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.wantCode, w.Body)
			}
			if w.Code != 200 {
				return
			}
			if f.query != tc.want {
				t.Errorf("asked the hub for %+v, want %+v", f.query, tc.want)
			}
			var evs []api.Event
			decodeBody(t, w, &evs)
			if len(evs) != 1 || evs[0].Seq != 7 || evs[0].User == "" {
				t.Errorf("events %+v", evs)
			}
		})
	}
	s, _, _ := newTestServer(t)
	if w := do(t, s, request{method: "GET", path: "/api/v1/sessions/nope/events", token: testToken}); w.Code != 404 {
		t.Errorf("events of an unknown session: status %d, want 404", w.Code)
	}
}

func TestDiffRequest(t *testing.T) {
	for _, tc := range []struct {
		name     string
		query    string
		hubErr   error
		wantCode int
		wantErr  string
	}{
		{"both copies", "?path=docs/a.txt&a=site-a&b=site-b", nil, 200, ""},
		{"no path", "?a=site-a&b=site-b", nil, 400, "name the path and the two hosts"},
		{"one host only", "?path=a.txt&a=site-a", nil, 400, "name the path and the two hosts"},
		{"a host outside the session", "?path=a.txt&a=site-a&b=site-x", fmt.Errorf("%w: %q is not a host of session s", api.ErrInvalid, "site-x"), 400, "not a host"},
		{"a path outside the session", "?path=../etc/passwd&a=site-a&b=site-b", fmt.Errorf("%w: path \"../etc/passwd\": \"..\" element", api.ErrInvalid), 400, ".."},
		{"a stopped session", "?path=a.txt&a=site-a&b=site-b", fmt.Errorf("%w: session s is not running", api.ErrBusy), 409, "not running"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, f, _ := newTestServer(t)
			f.diffErr = tc.hubErr
			w := do(t, s, request{method: "GET", path: "/api/v1/sessions/s/diff" + tc.query, token: testToken})
			if w.Code != tc.wantCode {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.wantCode, w.Body)
			}
			if tc.wantErr != "" {
				if got := problem(t, w); !strings.Contains(got, tc.wantErr) {
					t.Errorf("error %q, want it to contain %q", got, tc.wantErr)
				}
				return
			}
			var d api.Diff
			decodeBody(t, w, &d)
			if d.Path != "docs/a.txt" || d.A.Host != "site-a" || d.A.Text != "one\n" || d.B.Host != "site-b" || !d.B.Binary {
				t.Errorf("diff %+v", d)
			}
		})
	}
}

// TestOpenAPICoversEveryRoute checks that web/openapi.yaml has a path item
// for every route the server registers, with its method.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	s, _, _ := newTestServer(t)
	lines := strings.Split(string(openapiDoc), "\n")
	for _, rt := range s.routes() {
		method, path, ok := strings.Cut(rt.pattern, " ")
		if !ok {
			t.Errorf("route %q has no method", rt.pattern)
			continue
		}
		path = strings.TrimSuffix(path, "{$}")
		start := -1
		for i, l := range lines {
			if l == "  "+path+":" {
				start = i
				break
			}
		}
		if start < 0 {
			t.Errorf("openapi.yaml has no path %s (route %q)", path, rt.pattern)
			continue
		}
		found := false
		for _, l := range lines[start+1:] {
			if !strings.HasPrefix(l, "   ") { // the next path, or the end of paths
				break
			}
			if l == "    "+strings.ToLower(method)+":" {
				found = true
			}
		}
		if !found {
			t.Errorf("openapi.yaml documents no %s under %s", method, path)
		}
	}
	w := do(t, s, request{method: "GET", path: "/openapi.yaml"})
	if w.Code != 200 || !strings.HasPrefix(w.Body.String(), "openapi: 3.0") {
		t.Errorf("GET /openapi.yaml: %d %.40q", w.Code, w.Body)
	}
}

func TestSecurityHeaders(t *testing.T) {
	s, _, _ := newTestServer(t)
	index, err := readConsole("index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path     string
		wantCode int
		wantType string
	}{
		{"/", 200, "text/html"},
		{"/assets/index.html", 200, "text/html"},
		{"/assets/nothing.js", 404, ""},
		{"/assets/..%2fconsole.go", 404, ""},
		{"/api/v1/openapi.yaml", 200, "application/yaml"},
		{"/api/v1/status", 401, "application/json"},
	} {
		w := do(t, s, request{method: "GET", path: tc.path})
		if w.Code != tc.wantCode {
			t.Errorf("GET %s: status %d, want %d", tc.path, w.Code, tc.wantCode)
			continue
		}
		if tc.wantType != "" && !strings.HasPrefix(w.Header().Get("Content-Type"), tc.wantType) {
			t.Errorf("GET %s: Content-Type %q, want %s", tc.path, w.Header().Get("Content-Type"), tc.wantType)
		}
		for k, v := range securityHeaders {
			if got := w.Header().Get(k); got != v {
				t.Errorf("GET %s: %s %q, want %q", tc.path, k, got, v)
			}
		}
		if tc.path == "/" && w.Body.String() != index {
			t.Errorf("GET / is not the console's index.html")
		}
	}
	csp := securityHeaders["Content-Security-Policy"]
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if w := do(t, s, request{method: "GET", path: "/nothing"}); w.Code != http.StatusNotFound {
		t.Errorf("GET /nothing: status %d, want 404", w.Code)
	}
}

func readConsole(name string) (string, error) {
	b, err := fs.ReadFile(ConsoleFS(), name)
	return string(b), err
}
