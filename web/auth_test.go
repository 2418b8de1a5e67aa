package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/web/api"
)

func decodeBody(t testing.TB, w *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		t.Fatalf("response %q: %v", w.Body, err)
	}
}

func problem(t testing.TB, w *httptest.ResponseRecorder) string {
	t.Helper()
	var p api.Problem
	decodeBody(t, w, &p)
	return p.Error
}

func TestSignIn(t *testing.T) {
	for _, tc := range []struct {
		name     string
		body     string
		wantCode int
		wantErr  string
	}{
		{"the right password signs in", `{"password":"` + testPassword + `"}`, 200, ""},
		{"the right password of the named admin signs in", `{"user":"admin","password":"` + testPassword + `"}`, 200, ""},
		{"a wrong password is refused", `{"password":"wrong horse battery"}`, 401, "wrong user name or password"},
		{"an empty password is refused", `{"password":""}`, 401, "wrong user name or password"},
		{"an unknown user is refused as a wrong password", `{"user":"mallory","password":"` + testPassword + `"}`, 401, "wrong user name or password"},
		{"a body that is not a sign-in is refused", `{"name":"admin"}`, 400, "bad sign-in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _ := newTestServer(t)
			w := do(t, s, request{method: "POST", path: "/api/v1/login", body: tc.body})
			if w.Code != tc.wantCode {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.wantCode, w.Body)
			}
			if tc.wantErr != "" {
				if got := problem(t, w); !strings.Contains(got, tc.wantErr) {
					t.Errorf("error %q, want %q", got, tc.wantErr)
				}
				if len(w.Result().Cookies()) != 0 {
					t.Errorf("a refused sign-in set cookies %v", w.Result().Cookies())
				}
				return
			}
			var me api.Me
			decodeBody(t, w, &me)
			if me.User != "admin" || len(me.CSRF) < 32 {
				t.Errorf("signed in as %+v, want admin with a CSRF token", me)
			}
		})
	}
}

func TestSessionCookieFlags(t *testing.T) {
	s, _, _ := newTestServer(t)
	w := do(t, s, request{method: "POST", path: "/api/v1/login", body: `{"password":"` + testPassword + `"}`})
	raw := w.Header().Get("Set-Cookie")
	for _, want := range []string{SessionCookie + "=", "Path=/", "Max-Age=43200", "HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(raw, want) {
			t.Errorf("Set-Cookie %q lacks %q", raw, want)
		}
	}
	if strings.Contains(raw, "Secure") {
		t.Errorf("Set-Cookie %q is Secure on a plain HTTP hub: browsers would drop it", raw)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("sign-in answer Cache-Control %q, want no-store (it carries the CSRF token)", cc)
	}
}

func TestFailedSignInsAreRateLimitedPerAddress(t *testing.T) {
	s, _, clk := newTestServer(t)
	login := func(pw, remote string) *httptest.ResponseRecorder {
		return do(t, s, request{method: "POST", path: "/api/v1/login", body: `{"password":"` + pw + `"}`, remote: remote})
	}
	for i := range maxFailures {
		if w := login("guess", "192.0.2.1:1000"); w.Code != 401 {
			t.Fatalf("wrong password %d: status %d, want 401", i+1, w.Code)
		}
		clk.advance(time.Second)
	}
	w := login(testPassword, "192.0.2.1:1001")
	if w.Code != http.StatusTooManyRequests {
		t.Fatalf("the right password after %d failures: status %d, want 429", maxFailures, w.Code)
	}
	if ra := w.Header().Get("Retry-After"); ra != "55" {
		t.Errorf("Retry-After %q, want 55 (seconds left of the minute)", ra)
	}
	if w := login(testPassword, "198.51.100.7:1000"); w.Code != 200 {
		t.Errorf("another address: status %d, want 200", w.Code)
	}
	clk.advance(54 * time.Second)
	if w := login(testPassword, "192.0.2.1:1002"); w.Code != http.StatusTooManyRequests {
		t.Errorf("a second before the minute passed: status %d, want 429", w.Code)
	}
	clk.advance(time.Second)
	if w := login(testPassword, "192.0.2.1:1003"); w.Code != 200 {
		t.Errorf("once the minute passed: status %d, want 200: %s", w.Code, w.Body)
	}
	// Sign-ins that succeed do not count towards the limit.
	for i := range 2 * maxFailures {
		if w := login(testPassword, "203.0.113.5:1"); w.Code != 200 {
			t.Fatalf("right password %d: status %d", i+1, w.Code)
		}
	}
}

func TestFailedSignInsCountAnIPv6NetworkAsOne(t *testing.T) {
	s, _, _ := newTestServer(t)
	login := func(pw, remote string) int {
		return do(t, s, request{method: "POST", path: "/api/v1/login", body: `{"password":"` + pw + `"}`, remote: remote}).Code
	}
	for i := range maxFailures {
		if code := login("guess", fmt.Sprintf("[2001:db8:1:2::%x]:1000", i+1)); code != 401 {
			t.Fatalf("wrong password %d: status %d, want 401", i+1, code)
		}
	}
	w := do(t, s, request{method: "POST", path: "/api/v1/login", body: `{"password":"` + testPassword + `"}`, remote: "[2001:db8:1:2:ffff::1]:1000"})
	if w.Code != http.StatusTooManyRequests {
		t.Errorf("another address of the same /64: status %d, want 429", w.Code)
	}
	// It never tried: the message names the network that did.
	if body := w.Body.String(); strings.Contains(body, "ffff") || !strings.Contains(body, "2001:db8:1:2::/64") {
		t.Errorf("the refusal of an address that never tried says %s; want the /64 named, not the address", body)
	}
	if code := login(testPassword, "[2001:db8:1:3::1]:1000"); code != 200 {
		t.Errorf("an address of another /64: status %d, want 200", code)
	}
}

func TestFailedSignInsFromEveryAddressAreCapped(t *testing.T) {
	s, _, clk := newTestServer(t)
	login := func(pw string, n int) int {
		remote := fmt.Sprintf("10.%d.%d.%d:1000", n>>16&255, n>>8&255, n&255)
		return do(t, s, request{method: "POST", path: "/api/v1/login", body: `{"password":"` + pw + `"}`, remote: remote}).Code
	}
	for i := range maxAllFailures {
		if code := login("guess", i); code != 401 {
			t.Fatalf("wrong password %d from a new address: status %d, want 401", i+1, code)
		}
	}
	w := do(t, s, request{method: "POST", path: "/api/v1/login", body: `{"password":"guess"}`, remote: "10.200.0.1:1000"})
	if w.Code != http.StatusTooManyRequests {
		t.Errorf("one more guess from yet another address: status %d, want 429", w.Code)
	}
	// That address never tried: the message blames every address, not it.
	if body := w.Body.String(); strings.Contains(body, "10.200.0.1") || !strings.Contains(body, "all addresses") {
		t.Errorf("the refusal of an address that never tried says %s; want all addresses blamed, not it", body)
	}
	clk.advance(failureWindow)
	if code := login(testPassword, maxAllFailures+1); code != 200 {
		t.Errorf("once the minute passed: status %d, want 200", code)
	}
}

func TestCSRF(t *testing.T) {
	s, _, _ := newTestServer(t)
	cookie, csrf := signIn(t, s)
	for _, tc := range []struct {
		name     string
		rq       request
		wantCode int
	}{
		{"a change without the CSRF token is refused", request{method: "POST", path: "/api/v1/sessions/s/start", cookie: cookie}, 403},
		{"a change with a wrong CSRF token is refused", request{method: "POST", path: "/api/v1/sessions/s/start", cookie: cookie, csrf: csrf[:len(csrf)-1] + "x"}, 403},
		{"a delete without the CSRF token is refused", request{method: "DELETE", path: "/api/v1/sessions/s", cookie: cookie}, 403},
		{"a change with the CSRF token passes", request{method: "POST", path: "/api/v1/sessions/s/start", cookie: cookie, csrf: csrf}, 200},
		{"a read needs no CSRF token", request{method: "GET", path: "/api/v1/sessions", cookie: cookie}, 200},
		{"a change with the hub's token needs no CSRF token", request{method: "POST", path: "/api/v1/sessions/s/start", token: testToken}, 200},
		{"a CSRF token without its cookie is no sign-in", request{method: "POST", path: "/api/v1/sessions/s/start", csrf: csrf}, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := do(t, s, tc.rq)
			if w.Code != tc.wantCode {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.wantCode, w.Body)
			}
			if w.Code == 403 {
				if got := problem(t, w); got != errCSRF {
					t.Errorf("error %q, want %q", got, errCSRF)
				}
			}
		})
	}
}

func TestCredentials(t *testing.T) {
	s, _, _ := newTestServer(t)
	cookie, _ := signIn(t, s)
	forged := *cookie
	forged.Value = "not-a-session"
	for _, tc := range []struct {
		name     string
		rq       request
		wantCode int
		wantErr  string
	}{
		{"the hub's token still works", request{method: "GET", path: "/api/v1/status", token: testToken}, 200, ""},
		{"a wrong token is refused", request{method: "GET", path: "/api/v1/status", token: "nope"}, 401, "token refused"},
		{"no credential asks to sign in", request{method: "GET", path: "/api/v1/status"}, 401, "sign in"},
		{"an unknown cookie asks to sign in", request{method: "GET", path: "/api/v1/status", cookie: &forged}, 401, "sign in"},
		{"the session cookie works", request{method: "GET", path: "/api/v1/status", cookie: cookie}, 200, ""},
		{"me answers a signed-in console", request{method: "GET", path: "/api/v1/me", cookie: cookie}, 200, ""},
		{"me refuses without a cookie", request{method: "GET", path: "/api/v1/me"}, 401, "sign in"},
		{"the OpenAPI document needs no credential", request{method: "GET", path: "/api/v1/openapi.yaml"}, 200, ""},
		{"the console's page needs no credential", request{method: "GET", path: "/"}, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := do(t, s, tc.rq)
			if w.Code != tc.wantCode {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.wantCode, w.Body)
			}
			if tc.wantErr != "" {
				if got := problem(t, w); !strings.Contains(got, tc.wantErr) {
					t.Errorf("error %q, want it to contain %q", got, tc.wantErr)
				}
			}
		})
	}
}

func TestSessionExpiresAfter12Hours(t *testing.T) {
	s, _, clk := newTestServer(t)
	cookie, _ := signIn(t, s)
	clk.advance(12*time.Hour - time.Second)
	if w := do(t, s, request{method: "GET", path: "/api/v1/me", cookie: cookie}); w.Code != 200 {
		t.Fatalf("just before 12 h: status %d", w.Code)
	}
	clk.advance(time.Second)
	if w := do(t, s, request{method: "GET", path: "/api/v1/me", cookie: cookie}); w.Code != 401 {
		t.Fatalf("after 12 h: status %d, want 401", w.Code)
	}
}

func TestLogout(t *testing.T) {
	s, _, _ := newTestServer(t)
	cookie, csrf := signIn(t, s)
	if w := do(t, s, request{method: "POST", path: "/api/v1/logout", cookie: cookie}); w.Code != 403 {
		t.Fatalf("sign-out without the CSRF token: status %d, want 403", w.Code)
	}
	w := do(t, s, request{method: "POST", path: "/api/v1/logout", cookie: cookie, csrf: csrf})
	if w.Code != http.StatusNoContent {
		t.Fatalf("sign-out: status %d, want 204", w.Code)
	}
	cleared := slices.ContainsFunc(w.Result().Cookies(), func(c *http.Cookie) bool {
		return c.Name == SessionCookie && c.Value == "" && c.MaxAge < 0
	})
	if !cleared {
		t.Errorf("sign-out did not clear the cookie: %v", w.Header()["Set-Cookie"])
	}
	for _, path := range []string{"/api/v1/me", "/api/v1/sessions"} {
		if w := do(t, s, request{method: "GET", path: path, cookie: cookie}); w.Code != 401 {
			t.Errorf("GET %s with the old cookie: status %d, want 401", path, w.Code)
		}
	}
	if w := do(t, s, request{method: "POST", path: "/api/v1/logout"}); w.Code != http.StatusNoContent {
		t.Errorf("sign-out when signed out: status %d, want 204", w.Code)
	}
}

func TestResolutionNamesWhoResolved(t *testing.T) {
	s, f, _ := newTestServer(t)
	cookie, csrf := signIn(t, s)
	body := `{"path":"a.txt","winner":"site-a"}`
	do(t, s, request{method: "POST", path: "/api/v1/sessions/s/conflicts/resolve", body: body, cookie: cookie, csrf: csrf, remote: "192.0.2.9:5555"})
	do(t, s, request{method: "POST", path: "/api/v1/sessions/s/conflicts/resolve", body: body, token: testToken, remote: "198.51.100.2:6666"})
	want := []string{"admin (console, 192.0.2.9)", "the hub's shared token (198.51.100.2)"}
	if !slices.Equal(f.resolvers, want) {
		t.Errorf("resolved by %q, want %q", f.resolvers, want)
	}
}
