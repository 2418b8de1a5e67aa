package web

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/crypto/bcrypt"

	"github.com/peerlink/peerlink/web/api"
)

const (
	testToken    = "the-hub-token"
	testPassword = "correct horse battery"
)

// fakeHub is a Coordinator that remembers what it was asked.
type fakeHub struct {
	hash []byte
	ppl  *fakePeople

	mu        sync.Mutex
	resolvers []string // the user of each Resolve
	query     api.EventQuery
	diffErr   error
	subs      map[*fakeSub]bool
}

type fakeSub struct {
	ready   chan struct{}
	pending map[api.Notice]bool
}

func newFakeHub(t testing.TB) *fakeHub {
	hash, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeHub{hash: hash, subs: map[*fakeSub]bool{}, ppl: newFakePeople(hash)}
}

func notFound(name string) error { return fmt.Errorf("%w: no session named %s", api.ErrNotFound, name) }

func (f *fakeHub) Status() api.Status { return api.Status{Version: "test"} }
func (f *fakeHub) Sessions() ([]api.Session, error) {
	return []api.Session{{SessionConfig: api.SessionConfig{Name: "s"}}}, nil
}
func (f *fakeHub) Session(name string) (api.Session, error) {
	if name != "s" {
		return api.Session{}, notFound(name)
	}
	return api.Session{SessionConfig: api.SessionConfig{Name: "s"}}, nil
}
func (f *fakeHub) CreateSession(cfg api.SessionConfig, user string) (api.Session, error) {
	return api.Session{SessionConfig: cfg}, nil
}
func (f *fakeHub) UpdateSession(cfg api.SessionConfig, user string) (api.Session, error) {
	return api.Session{SessionConfig: cfg}, nil
}
func (f *fakeHub) Conflicts(string) ([]api.Conflict, error) { return []api.Conflict{}, nil }
func (f *fakeHub) Locks(string) ([]api.Lock, error)         { return []api.Lock{}, nil }
func (f *fakeHub) Resolve(session string, req api.ResolveRequest, user string) (api.ResolveResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resolvers = append(f.resolvers, user)
	return api.ResolveResult{Resolved: []string{req.Path}}, nil
}
func (f *fakeHub) DeleteSession(string) error { return nil }
func (f *fakeHub) ResetRoot(session string, req api.ResetRootRequest, user string) (api.Session, error) {
	return f.Session(session)
}
func (f *fakeHub) Deletions(session string, req api.DeletionsRequest, user string) (api.DeletionsResult, error) {
	return api.DeletionsResult{Host: req.Host, Action: req.Action}, nil
}

func (f *fakeHub) Start(name, user string) (api.Session, error) {
	return f.Session(name)
}
func (f *fakeHub) Stop(name, user string) (api.Session, error) { return f.Session(name) }
func (f *fakeHub) Events(session string, q api.EventQuery) ([]api.Event, error) {
	if session != "s" {
		return nil, notFound(session)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.query = q
	return []api.Event{{Seq: 7, Kind: "conflict-resolved", User: "admin (console, 192.0.2.1)"}}, nil
}
func (f *fakeHub) Diff(session, path, a, b string) (api.Diff, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.diffErr != nil {
		return api.Diff{}, f.diffErr
	}
	return api.Diff{Path: path, A: api.DiffSide{Host: a, Exists: true, Text: "one\n"}, B: api.DiffSide{Host: b, Binary: true, Exists: true}}, nil
}

func (f *fakeHub) Subscribe() (<-chan struct{}, func() []api.Notice, func()) {
	s := &fakeSub{ready: make(chan struct{}, 1), pending: map[api.Notice]bool{}}
	f.mu.Lock()
	f.subs[s] = true
	f.mu.Unlock()
	take := func() []api.Notice {
		f.mu.Lock()
		defer f.mu.Unlock()
		var out []api.Notice
		for n := range s.pending {
			out = append(out, n)
		}
		clear(s.pending)
		return out
	}
	cancel := func() {
		f.mu.Lock()
		delete(f.subs, s)
		f.mu.Unlock()
	}
	return s.ready, take, cancel
}

func (f *fakeHub) subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

func (f *fakeHub) notify(kind, session string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs {
		s.pending[api.Notice{Kind: kind, Session: session}] = true
		select {
		case s.ready <- struct{}{}:
		default:
		}
	}
}

// clock is a settable time for the sign-in limits.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newTestServer returns a server on a fake hub, with a settable clock.
func newTestServer(t testing.TB) (*Server, *fakeHub, *clock) {
	f := newFakeHub(t)
	s := New(f, Config{Token: testToken, Log: zerolog.Nop()})
	t.Cleanup(s.Close)
	c := &clock{now: time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)}
	s.auth.now = c.Now
	return s, f, c
}

// request is one HTTP request to a test server.
type request struct {
	method, path, body string
	cookie             *http.Cookie
	csrf, token        string
	remote             string // RemoteAddr; 192.0.2.1:1234 if empty
}

func do(t testing.TB, s http.Handler, rq request) *httptest.ResponseRecorder {
	t.Helper()
	var body *strings.Reader
	if rq.body != "" {
		body = strings.NewReader(rq.body)
	} else {
		body = strings.NewReader("")
	}
	r := httptest.NewRequest(rq.method, rq.path, body)
	if rq.remote != "" {
		r.RemoteAddr = rq.remote
	}
	if rq.cookie != nil {
		r.AddCookie(rq.cookie)
	}
	if rq.csrf != "" {
		r.Header.Set("X-CSRF-Token", rq.csrf)
	}
	if rq.token != "" {
		r.Header.Set("Authorization", "Bearer "+rq.token)
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

// signIn signs in and returns the session cookie and CSRF token.
func signIn(t testing.TB, s http.Handler) (*http.Cookie, string) {
	t.Helper()
	w := do(t, s, request{method: "POST", path: "/api/v1/login", body: `{"password":"` + testPassword + `"}`})
	if w.Code != http.StatusOK {
		t.Fatalf("sign in: %d %s", w.Code, w.Body)
	}
	var me api.Me
	decodeBody(t, w, &me)
	for _, c := range w.Result().Cookies() {
		if c.Name == SessionCookie {
			return c, me.CSRF
		}
	}
	t.Fatalf("sign in set no %s cookie", SessionCookie)
	return nil, ""
}
