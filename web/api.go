package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/web/admit"
	"github.com/peerlink/peerlink/web/api"
)

// Coordinator is what the API needs of the hub.
type Coordinator interface {
	Status() api.Status
	Sessions() ([]api.Session, error)
	Session(name string) (api.Session, error)
	CreateSession(cfg api.SessionConfig, user string) (api.Session, error)
	UpdateSession(cfg api.SessionConfig, user string) (api.Session, error)
	Conflicts(session string) ([]api.Conflict, error)
	Locks(session string) ([]api.Lock, error)
	Resolve(session string, req api.ResolveRequest, user string) (api.ResolveResult, error)
	// Deletions approves or discards a host's deletions held by the
	// mass-delete breaker.
	Deletions(session string, req api.DeletionsRequest, user string) (api.DeletionsResult, error)
	// ResetRoot takes a host's root, refused as not the one the session
	// synchronised, as a new host's.
	ResetRoot(session string, req api.ResetRootRequest, user string) (api.Session, error)
	DeleteSession(name string) error
	Start(name, user string) (api.Session, error)
	Stop(name, user string) (api.Session, error)
	Events(session string, q api.EventQuery) ([]api.Event, error)
	Diff(session, path, a, b string) (api.Diff, error)
	People
	// Subscribe registers for change notices: ready signals that take has
	// some; cancel ends the subscription.
	Subscribe() (ready <-chan struct{}, take func() []api.Notice, cancel func())
}

// maxBody bounds a request body; a session definition is a few KiB.
const maxBody = 1 << 20

// Config is what the web server needs besides the hub.
type Config struct {
	Token string // the hub's token, which the CLI presents as a Bearer token
	Log   zerolog.Logger
	// Metrics serves GET /metrics (Prometheus' text format), to a client
	// with the token or signed in; nil answers 404.
	Metrics http.Handler
	// Agents enrols agents and revokes their credentials (agents.go);
	// nil answers 404.
	Agents Enroller
	// Directory, if set, signs in the people who have no local account
	// (Active Directory, LDAP).
	Directory Directory
}

// Directory checks a person's password and finds their role elsewhere
// than hub.db; its errors wrap directory.ErrWrongPassword, ErrNoRole or
// ErrUnavailable.
type Directory interface {
	SignIn(ctx context.Context, user, password string) (api.Role, error)
}

// Server serves the REST API on /api/v1/, its OpenAPI document, the live
// feed and the console. Close ends the live feeds it serves.
type Server struct {
	c     Coordinator
	token string
	log   zerolog.Logger
	mux   *http.ServeMux
	auth  *signIns
	// metrics serves GET /metrics; nil if the hub has none.
	metrics http.Handler
	agents  Enroller
	dir     Directory // nil: local accounts only
	// joins bounds the joins served at once, and joinStrikes the refused
	// joins of each address (agents.go).
	joins       *admit.Bound
	joinStrikes *admit.Strikes

	// ctx ends with Close; feeds counts the live feeds being served.
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
	feeds  sync.WaitGroup
}

// New returns the hub's web server.
func New(c Coordinator, cfg Config) *Server {
	s := &Server{c: c, token: cfg.Token, log: cfg.Log, mux: http.NewServeMux(), auth: newSignIns(time.Now), metrics: cfg.Metrics, agents: cfg.Agents, dir: cfg.Directory,
		joins: admit.New(maxJoining, maxAddrJoining, joinWait), joinStrikes: admit.NewStrikes(maxJoinRefusals, joinWindow, time.Now)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for _, rt := range s.routes() {
		h := rt.handler
		switch {
		case rt.need == public:
		case rt.need.Rank() > 0:
			h = s.authed(rt.need, h)
		default:
			// A route without a role is a programming error, caught by
			// any test that starts a server.
			panic("web: route " + rt.pattern + " names no role")
		}
		s.mux.HandleFunc(rt.pattern, h)
	}
	return s
}

// route is one pattern of the server's mux and the role it needs.
type route struct {
	pattern string
	need    api.Role // public, or the least role allowed
	handler http.HandlerFunc
}

// routes lists every route and who may call it: the one table of the
// API's authorization. web/openapi.yaml documents each route, and
// TestRouteRoles checks every role against every route.
func (s *Server) routes() []route {
	const (
		viewer   = api.RoleViewer
		helpdesk = api.RoleHelpdesk
		admin    = api.RoleAdmin
	)
	return append([]route{
		{"POST /api/v1/login", public, s.login},
		{"POST /api/v1/logout", public, s.logout},
		{"GET /api/v1/me", public, s.me},
		{"GET /api/v1/status", viewer, s.status},
		{"GET /api/v1/sessions", viewer, s.sessions},
		{"POST /api/v1/sessions", admin, s.create},
		{"GET /api/v1/sessions/{name}", viewer, s.session},
		{"PUT /api/v1/sessions/{name}", admin, s.update},
		{"DELETE /api/v1/sessions/{name}", admin, s.delete},
		{"GET /api/v1/sessions/{name}/conflicts", viewer, s.conflicts},
		{"POST /api/v1/sessions/{name}/conflicts/resolve", helpdesk, s.resolve},
		// Held mass deletions change the session's content at every
		// host: a session change, for an admin.
		{"POST /api/v1/sessions/{name}/deletions", admin, s.deletions},
		// Taking a host's root as new merges it into every host: an admin's.
		{"POST /api/v1/sessions/{name}/reset-root", admin, s.resetRoot},
		{"GET /api/v1/sessions/{name}/diff", viewer, s.diff},
		{"GET /api/v1/sessions/{name}/events", viewer, s.events},
		{"GET /api/v1/sessions/{name}/locks", viewer, s.locks},
		{"POST /api/v1/sessions/{name}/locks/release", helpdesk, s.releaseLock},
		{"POST /api/v1/sessions/{name}/start", admin, s.start},
		{"POST /api/v1/sessions/{name}/stop", admin, s.stop},
		{"GET /api/v1/tokens", admin, s.tokens},
		{"POST /api/v1/tokens", admin, s.createToken},
		{"DELETE /api/v1/tokens/{name}", admin, s.revokeToken},
		{"POST /api/v1/tokens/retire-shared", admin, s.retireShared},
		{"GET /api/v1/users", admin, s.users},
		{"POST /api/v1/users", admin, s.addUser},
		{"DELETE /api/v1/users/{name}", admin, s.removeUser},
		{"PUT /api/v1/users/{name}/role", admin, s.setRole},
		{"GET /api/v1/live", viewer, s.live},
		{"GET /api/v1/openapi.yaml", public, s.openapi},
		{"GET /openapi.yaml", public, s.openapi},
		{"GET /metrics", viewer, s.serveMetrics},
		{"GET /healthz", public, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") }},
		{"GET /{$}", public, s.index},
		{"GET /assets/{file}", public, s.asset},
	}, s.agentRoutes()...)
}

// securityHeaders go on every response: the console loads nothing from
// elsewhere, runs no inline script or style, and is never framed.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
	"X-Content-Type-Options":  "nosniff",
	"Referrer-Policy":         "same-origin",
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	for k, v := range securityHeaders {
		h.Set(k, v)
	}
	s.mux.ServeHTTP(w, r)
}

// Close ends every live feed and waits for their goroutines; the HTTP
// server's Shutdown does not, as a WebSocket is no longer its connection.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.feeds.Wait()
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeProblem(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, api.Problem{Error: msg})
}

// fail maps a coordinator error to a status code; the message is the
// error's own, written for an administrator.
func (s *Server) fail(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, api.ErrNotFound):
		code = http.StatusNotFound
	case errors.Is(err, api.ErrExists), errors.Is(err, api.ErrBusy):
		code = http.StatusConflict
	case errors.Is(err, api.ErrInvalid):
		code = http.StatusBadRequest
	default:
		s.log.Error().Err(err).Msg("api")
	}
	msg := err.Error()
	for _, kind := range []error{api.ErrInvalid, api.ErrNotFound, api.ErrExists, api.ErrBusy} {
		prefix := kind.Error() + ": "
		msg = strings.TrimPrefix(msg, prefix)
	}
	writeProblem(w, code, msg)
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.c.Status())
}

func (s *Server) sessions(w http.ResponseWriter, r *http.Request) {
	list, err := s.c.Sessions()
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) session(w http.ResponseWriter, r *http.Request) {
	sess, err := s.c.Session(r.PathValue("name"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sess)
}

// decode reads a JSON request body strictly; false means it answered.
func decode(w http.ResponseWriter, r *http.Request, what string, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeProblem(w, http.StatusBadRequest, "bad "+what+": "+err.Error())
		return false
	}
	// Not dec.More(): it reports false for a trailing '}' or ']'. Only
	// whitespace may follow the value, and then the next token is io.EOF.
	if _, err := dec.Token(); err != io.EOF {
		writeProblem(w, http.StatusBadRequest, "bad "+what+": the body holds more than one JSON value; send exactly one")
		return false
	}
	return true
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	var cfg api.SessionConfig
	if !decode(w, r, "session definition", &cfg) {
		return
	}
	sess, err := s.c.CreateSession(cfg, caller(r).audit())
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, sess)
}

func (s *Server) update(w http.ResponseWriter, r *http.Request) {
	var cfg api.SessionConfig
	if !decode(w, r, "session definition", &cfg) {
		return
	}
	if cfg.Name != r.PathValue("name") {
		writeProblem(w, http.StatusBadRequest, "the session's name cannot be changed: create a new session")
		return
	}
	sess, err := s.c.UpdateSession(cfg, caller(r).audit())
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sess)
}

func (s *Server) conflicts(w http.ResponseWriter, r *http.Request) {
	list, err := s.c.Conflicts(r.PathValue("name"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) locks(w http.ResponseWriter, r *http.Request) {
	list, err := s.c.Locks(r.PathValue("name"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) resolve(w http.ResponseWriter, r *http.Request) {
	var req api.ResolveRequest
	if !decode(w, r, "resolution", &req) {
		return
	}
	res, err := s.c.Resolve(r.PathValue("name"), req, caller(r).audit())
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) deletions(w http.ResponseWriter, r *http.Request) {
	var req api.DeletionsRequest
	if !decode(w, r, "deletions", &req) {
		return
	}
	res, err := s.c.Deletions(r.PathValue("name"), req, caller(r).audit())
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) resetRoot(w http.ResponseWriter, r *http.Request) {
	var req api.ResetRootRequest
	if !decode(w, r, "reset-root", &req) {
		return
	}
	sess, err := s.c.ResetRoot(r.PathValue("name"), req, caller(r).audit())
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sess)
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request) {
	if err := s.c.DeleteSession(r.PathValue("name")); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) start(w http.ResponseWriter, r *http.Request) {
	sess, err := s.c.Start(r.PathValue("name"), caller(r).audit())
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sess)
}

func (s *Server) stop(w http.ResponseWriter, r *http.Request) {
	sess, err := s.c.Stop(r.PathValue("name"), caller(r).audit())
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sess)
}

// maxQueryText bounds the text filter of the event log.
const maxQueryText = 256

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	var q api.EventQuery
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			writeProblem(w, http.StatusBadRequest, "limit "+strconv.Quote(l)+": give a number of events, 1 to "+strconv.Itoa(api.MaxEvents))
			return
		}
		q.Limit = min(n, api.MaxEvents)
	}
	if b := v.Get("before"); b != "" {
		n, err := strconv.ParseUint(b, 10, 64)
		if err != nil {
			writeProblem(w, http.StatusBadRequest, "before "+strconv.Quote(b)+": give the seq of an event")
			return
		}
		q.Before = n
	}
	q.Kind, q.Q = v.Get("kind"), v.Get("q")
	if len(q.Q) > maxQueryText || len(q.Kind) > maxQueryText {
		writeProblem(w, http.StatusBadRequest, "the filter is too long: at most "+strconv.Itoa(maxQueryText)+" bytes")
		return
	}
	list, err := s.c.Events(r.PathValue("name"), q)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) diff(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	path, a, b := v.Get("path"), v.Get("a"), v.Get("b")
	if path == "" || a == "" || b == "" {
		writeProblem(w, http.StatusBadRequest, "name the path and the two hosts to compare: ?path=P&a=HOST&b=HOST")
		return
	}
	d, err := s.c.Diff(r.PathValue("name"), path, a, b)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}
