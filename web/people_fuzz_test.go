package web

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/peerlink/peerlink/web/api"
)

// fuzzPeopleBody posts body to path as the admin and checks that the
// answer is one of want or a 400 with a message, never a panic or a 500.
func fuzzPeopleBody(t *testing.T, s *Server, f *fakeHub, path, body string, want ...int) {
	tok, err := f.CreateToken(api.TokenRequest{Name: "fuzz-admin", Role: api.RoleAdmin}, "fuzz")
	if err != nil {
		t.Fatal(err)
	}
	w := do(t, s, request{method: "POST", path: path, body: body, token: tok.Secret})
	if w.Code == http.StatusBadRequest {
		if problem(t, w) == "" {
			t.Fatalf("400 without a message for %q", body)
		}
		return
	}
	for _, c := range want {
		if w.Code == c {
			return
		}
	}
	t.Fatalf("POST %s %q: %d %s", path, body, w.Code, w.Body)
}

// FuzzTokens feeds request bodies to POST /api/v1/tokens: each is made
// into a token (201), or refused as invalid (400) or taken (409).
func FuzzTokens(f *testing.F) {
	for _, seed := range []string{
		`{"name":"alice","role":"viewer"}`, `{"name":"ci","role":"admin","ttl":"720h"}`, `{"name":"x","ttl":"-1s"}`,
		`{"name":"","role":"root"}`, `{"name":"a\u0000b"}`, `{}`, `[]`, `{"name":"a"}{"name":"b"}`, `{"name":"a","extra":1}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		s, hub, _ := newTestServer(t)
		fuzzPeopleBody(t, s, hub, "/api/v1/tokens", body, http.StatusCreated, http.StatusConflict)
		req, err := decodeTokenRequestBody(body)
		if err == nil && (api.CheckPersonName("token", req.Name) != nil || req.Role.Rank() == 0 || req.TTL < 0) {
			t.Fatalf("accepted %+v from %q", req, body)
		}
	})
}

// FuzzUsers feeds request bodies to POST /api/v1/users.
func FuzzUsers(f *testing.F) {
	for _, seed := range []string{
		`{"name":"bob","role":"helpdesk","password":"long enough"}`, `{"name":"bob","role":"helpdesk","password":"short"}`,
		`{"name":"bob","role":"god","password":"long enough"}`, `{"name":"-bob","role":"viewer","password":"long enough"}`, `{}`, `null`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		s, hub, _ := newTestServer(t)
		fuzzPeopleBody(t, s, hub, "/api/v1/users", body, http.StatusCreated, http.StatusConflict)
	})
}

// decodeTokenRequestBody is decodeTokenRequest on a string.
func decodeTokenRequestBody(body string) (api.TokenRequest, error) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/api/v1/tokens", strings.NewReader(body))
	req, ok := decodeTokenRequest(w, r)
	if !ok {
		return req, api.ErrInvalid
	}
	return req, nil
}
