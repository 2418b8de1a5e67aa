package web

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/api"
)

// Coordinator is what the API needs of the hub.
type Coordinator interface {
	Status() api.Status
	Sessions() ([]api.Session, error)
	Session(name string) (api.Session, error)
	CreateSession(cfg api.SessionConfig) (api.Session, error)
	UpdateSession(cfg api.SessionConfig) (api.Session, error)
	Conflicts(session string) ([]api.Conflict, error)
	Locks(session string) ([]api.Lock, error)
	Resolve(session string, req api.ResolveRequest, user string) (api.ResolveResult, error)
	DeleteSession(name string) error
	Start(name string) (api.Session, error)
	Stop(name string) (api.Session, error)
}

// maxBody bounds a request body; a session definition is a few KiB.
const maxBody = 1 << 20

// Handler returns the REST API on /api/v1/, authenticated by the hub token.
func Handler(c Coordinator, token string, log zerolog.Logger) http.Handler {
	s := &server{c: c, token: token, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/status", s.auth(s.status))
	mux.HandleFunc("GET /api/v1/sessions", s.auth(s.sessions))
	mux.HandleFunc("POST /api/v1/sessions", s.auth(s.create))
	mux.HandleFunc("GET /api/v1/sessions/{name}", s.auth(s.session))
	mux.HandleFunc("PUT /api/v1/sessions/{name}", s.auth(s.update))
	mux.HandleFunc("DELETE /api/v1/sessions/{name}", s.auth(s.delete))
	mux.HandleFunc("GET /api/v1/sessions/{name}/conflicts", s.auth(s.conflicts))
	mux.HandleFunc("GET /api/v1/sessions/{name}/locks", s.auth(s.locks))
	mux.HandleFunc("POST /api/v1/sessions/{name}/conflicts/resolve", s.auth(s.resolve))
	mux.HandleFunc("POST /api/v1/sessions/{name}/start", s.auth(s.start))
	mux.HandleFunc("POST /api/v1/sessions/{name}/stop", s.auth(s.stop))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "peerlink hub\n\nThe REST API is at /api/v1/ (send Authorization: Bearer TOKEN, the token in the hub's DATA/token).\n"+
			"From a shell: PEERLINK_HUB=URL PEERLINK_TOKEN=TOKEN peerlink status\n")
	})
	return mux
}

type server struct {
	c     Coordinator
	token string
	log   zerolog.Logger
}

func (s *server) auth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.token)) != 1 {
			writeProblem(w, http.StatusUnauthorized, "token refused: pass the hub's token with --token or PEERLINK_TOKEN (it is in the hub's DATA/token file)")
			return
		}
		next(w, r)
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
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
func (s *server) fail(w http.ResponseWriter, err error) {
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

func (s *server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.c.Status())
}

func (s *server) sessions(w http.ResponseWriter, r *http.Request) {
	list, err := s.c.Sessions()
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *server) session(w http.ResponseWriter, r *http.Request) {
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
	return true
}

func (s *server) create(w http.ResponseWriter, r *http.Request) {
	var cfg api.SessionConfig
	if !decode(w, r, "session definition", &cfg) {
		return
	}
	sess, err := s.c.CreateSession(cfg)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, sess)
}

func (s *server) update(w http.ResponseWriter, r *http.Request) {
	var cfg api.SessionConfig
	if !decode(w, r, "session definition", &cfg) {
		return
	}
	if cfg.Name != r.PathValue("name") {
		writeProblem(w, http.StatusBadRequest, "the session's name cannot be changed: create a new session")
		return
	}
	sess, err := s.c.UpdateSession(cfg)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sess)
}

func (s *server) conflicts(w http.ResponseWriter, r *http.Request) {
	list, err := s.c.Conflicts(r.PathValue("name"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *server) locks(w http.ResponseWriter, r *http.Request) {
	list, err := s.c.Locks(r.PathValue("name"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *server) resolve(w http.ResponseWriter, r *http.Request) {
	var req api.ResolveRequest
	if !decode(w, r, "resolution", &req) {
		return
	}
	res, err := s.c.Resolve(r.PathValue("name"), req, "api token from "+r.RemoteAddr)
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *server) delete(w http.ResponseWriter, r *http.Request) {
	if err := s.c.DeleteSession(r.PathValue("name")); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) start(w http.ResponseWriter, r *http.Request) {
	sess, err := s.c.Start(r.PathValue("name"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sess)
}

func (s *server) stop(w http.ResponseWriter, r *http.Request) {
	sess, err := s.c.Stop(r.PathValue("name"))
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sess)
}
