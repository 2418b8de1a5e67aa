package web

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/peerlink/peerlink/web/api"
)

// operation is one method and path of openapi.yaml with the role its
// x-peerlink-role says it needs.
type operation struct {
	method, path string
	role         api.Role
}

// documentedRoles reads every operation of openapi.yaml and its role; an
// operation without one is an error.
func documentedRoles(t *testing.T) []operation {
	t.Helper()
	pathRE := regexp.MustCompile(`^  (/\S*):$`)
	opRE := regexp.MustCompile(`^    (get|post|put|delete|patch):$`)
	var ops []operation
	var path string
	inPaths := false
	lines := strings.Split(string(openapiDoc), "\n")
	for i, l := range lines {
		switch {
		case l == "paths:":
			inPaths = true
		case l == "components:":
			inPaths = false
		case !inPaths:
		case pathRE.MatchString(l):
			path = pathRE.FindStringSubmatch(l)[1]
		case opRE.MatchString(l):
			method := strings.ToUpper(opRE.FindStringSubmatch(l)[1])
			role, ok := strings.CutPrefix(strings.TrimSpace(lines[i+1]), "x-peerlink-role: ")
			if !ok {
				t.Errorf("openapi.yaml: %s %s has no x-peerlink-role right after its method: say who may call it", method, path)
				continue
			}
			ops = append(ops, operation{method, path, api.Role(role)})
		}
	}
	return ops
}

// caller is one way to call the API in TestRouteRoles.
type testCaller struct {
	name string
	role api.Role // "" for no credential
	// set puts the credential on a request to s.
	set func(t *testing.T, s *Server, f *fakeHub, rq *request)
}

func tokenCaller(role api.Role) testCaller {
	return testCaller{"a " + string(role) + " API token", role, func(t *testing.T, s *Server, f *fakeHub, rq *request) {
		tok, err := f.CreateToken(api.TokenRequest{Name: "t", Role: role}, "test")
		if err != nil {
			t.Fatal(err)
		}
		rq.token = tok.Secret
	}}
}

func consoleCaller(role api.Role) testCaller {
	return testCaller{"a " + string(role) + " console account", role, func(t *testing.T, s *Server, f *fakeHub, rq *request) {
		cookie, csrf := s.auth.create("someone", role)
		rq.cookie, rq.csrf = &http.Cookie{Name: SessionCookie, Value: cookie}, csrf
	}}
}

// TestRouteRoles walks every operation of openapi.yaml and every route of
// the server's mux, and checks that each caller is refused (401 without a
// credential, 403 with too low a role) exactly where the document says,
// and let through everywhere else: a route added without a role, or with
// another than its document says, fails here.
func TestRouteRoles(t *testing.T) {
	ops := documentedRoles(t)
	s, _, _ := newTestServer(t)
	documented := map[string]api.Role{}
	for _, op := range ops {
		documented[op.method+" "+op.path] = op.role
	}
	served := map[string]bool{}
	for _, rt := range s.routes() {
		key := strings.TrimSuffix(rt.pattern, "{$}")
		served[key] = true
		switch role, ok := documented[key]; {
		case !ok:
			t.Errorf("route %s is not in openapi.yaml", rt.pattern)
		case role != rt.need:
			t.Errorf("route %s needs %q in the route table but %q in openapi.yaml", rt.pattern, rt.need, role)
		}
	}
	for key := range documented {
		if !served[key] {
			t.Errorf("openapi.yaml documents %s, which the server does not serve", key)
		}
	}

	callers := []testCaller{{name: "no credential"}}
	for _, r := range []api.Role{api.RoleViewer, api.RoleHelpdesk, api.RoleAdmin} {
		callers = append(callers, tokenCaller(r), consoleCaller(r))
	}
	for _, op := range ops {
		for _, c := range callers {
			t.Run(op.method+" "+op.path+" by "+c.name, func(t *testing.T) {
				s, f, _ := newTestServer(t)
				path := strings.NewReplacer("{name}", "s", "{file}", "app.js").Replace(op.path)
				rq := request{method: op.method, path: path, body: "{}"}
				if c.set != nil {
					c.set(t, s, f, &rq)
				}
				w := do(t, s, rq)
				switch {
				case op.role == public:
					// Sign-in answers 401 to a wrong password, and /me to
					// no console session, by themselves.
					signIn := w.Code == http.StatusUnauthorized && strings.Contains(w.Body.String(), `"`+errSignIn+`"`)
					if roleRefusal(w.Code, w.Body.String()) || signIn && op.path != "/api/v1/me" {
						t.Errorf("public route answered %d: %s", w.Code, w.Body)
					}
				case c.role == "":
					if w.Code != http.StatusUnauthorized {
						t.Errorf("without a credential: %d, want 401", w.Code)
					}
				case !c.role.Allows(op.role):
					if w.Code != http.StatusForbidden {
						t.Fatalf("role %s on a route for %s: %d, want 403: %s", c.role, op.role, w.Code, w.Body)
					}
					if msg := problem(t, w); !strings.Contains(msg, "needs the "+string(op.role)+" role") {
						t.Errorf("403 %q does not name the role needed, %s", msg, op.role)
					}
				default:
					// Other 403s are the handler's own (the live feed's
					// Origin check, which this request does not pass).
					if w.Code == http.StatusUnauthorized || roleRefusal(w.Code, w.Body.String()) {
						t.Errorf("role %s on a route for %s: refused %d: %s", c.role, op.role, w.Code, w.Body)
					}
				}
			})
		}
	}
}

// roleRefusal reports whether an answer is authed's refusal of a role or
// of a missing CSRF token.
func roleRefusal(code int, body string) bool {
	return code == http.StatusForbidden && (strings.Contains(body, "role") || strings.Contains(body, "CSRF"))
}

func TestRoleAllows(t *testing.T) {
	for _, tc := range []struct {
		have, need api.Role
		want       bool
	}{
		{api.RoleViewer, api.RoleViewer, true},
		{api.RoleViewer, api.RoleHelpdesk, false},
		{api.RoleViewer, api.RoleAdmin, false},
		{api.RoleHelpdesk, api.RoleViewer, true},
		{api.RoleHelpdesk, api.RoleHelpdesk, true},
		{api.RoleHelpdesk, api.RoleAdmin, false},
		{api.RoleAdmin, api.RoleAdmin, true},
		{"", api.RoleViewer, false},
		{"root", api.RoleViewer, false},
	} {
		if got := tc.have.Allows(tc.need); got != tc.want {
			t.Errorf("%q.Allows(%q) = %v, want %v", tc.have, tc.need, got, tc.want)
		}
	}
}
