package web

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// heldBody is a request body that says when it is first read, then holds
// the reader until released, and fails.
type heldBody struct {
	reading chan struct{}
	release chan struct{}
	once    sync.Once
}

func newHeldBody() *heldBody {
	return &heldBody{reading: make(chan struct{}), release: make(chan struct{})}
}

func (b *heldBody) Read([]byte) (int, error) {
	b.once.Do(func() { close(b.reading) })
	<-b.release
	return 0, errors.New("client went away")
}

func loginWith(s http.Handler, remote string, body io.Reader) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", "/api/v1/login", body)
	r.RemoteAddr = remote
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

func TestSignInsServedAtOnceAreBoundedPerAddress(t *testing.T) {
	s, _, _ := newTestServer(t)
	var wg sync.WaitGroup
	held := make([]*heldBody, maxAddrSigningIn)
	for i := range held {
		held[i] = newHeldBody()
		wg.Add(1)
		go func() {
			defer wg.Done()
			loginWith(s, "192.0.2.1:1000", held[i])
		}()
		<-held[i].reading
	}
	w := loginWith(s, "192.0.2.1:1001", strings.NewReader(`{"password":"`+testPassword+`"}`))
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Connection") != "close" || w.Header().Get("Retry-After") == "" {
		t.Fatalf("one sign-in more from an address with %d being read: status %d, headers %v, want 429, Retry-After and the connection closed",
			maxAddrSigningIn, w.Code, w.Header())
	}
	if w := loginWith(s, "198.51.100.7:1000", strings.NewReader(`{"password":"`+testPassword+`"}`)); w.Code != http.StatusOK {
		t.Fatalf("a sign-in from another address meanwhile: status %d, want 200: %s", w.Code, w.Body)
	}
	for _, b := range held {
		close(b.release)
	}
	wg.Wait()
	if w := loginWith(s, "192.0.2.1:1002", strings.NewReader(`{"password":"`+testPassword+`"}`)); w.Code != http.StatusOK {
		t.Fatalf("a sign-in once the others ended: status %d, want 200: %s", w.Code, w.Body)
	}
}

func TestSignInsWhoseBodyNeverCameCountNoFailure(t *testing.T) {
	s, _, _ := newTestServer(t)
	for range maxFailures + 1 {
		b := newHeldBody()
		close(b.release)
		if w := loginWith(s, "192.0.2.1:1000", b); w.Code != http.StatusBadRequest {
			t.Fatalf("a sign-in whose body failed: status %d, want 400", w.Code)
		}
	}
	if w := loginWith(s, "192.0.2.1:1001", strings.NewReader(`{"password":"`+testPassword+`"}`)); w.Code != http.StatusOK {
		t.Fatalf("the right password after %d bodies that never came: status %d, want 200: %s", maxFailures+1, w.Code, w.Body)
	}
}

func TestRefusalsCloseTheConnection(t *testing.T) {
	s, _, _ := newTestServer(t)
	for _, rq := range []request{
		{method: "POST", path: "/api/v1/sessions", body: `{}`, token: "guess"},
		{method: "POST", path: "/api/v1/sessions", body: `{}`},
		{method: "POST", path: "/api/v1/login", body: `{"password":"guess"}`},
	} {
		w := do(t, s, rq)
		if w.Code < 400 || w.Header().Get("Connection") != "close" {
			t.Errorf("%s %s refused: status %d, Connection %q, want an error and the connection closed",
				rq.method, rq.path, w.Code, w.Header().Get("Connection"))
		}
	}
}

func TestSignInBodyIsBoundedToWhatAPasswordNeeds(t *testing.T) {
	s, _, _ := newTestServer(t)
	body := `{"password":"` + strings.Repeat("x", maxSignInBody) + `"}`
	w := loginWith(s, "192.0.2.1:1000", strings.NewReader(body))
	if w.Code != http.StatusBadRequest || !strings.Contains(problem(t, w), "too large") {
		t.Fatalf("a sign-in of %d bytes: status %d %s, want 400 naming the body too large", len(body), w.Code, w.Body)
	}
}
