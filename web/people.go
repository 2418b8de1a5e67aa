package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/peerlink/peerlink/web/api"
)

// People is what the API needs of the hub's API tokens, console accounts
// and locks released by hand. by names who asks, for the audit trail.
type People interface {
	Tokens() ([]api.APIToken, error)
	// CreateToken makes a token and returns its secret, which is kept
	// nowhere but in the answer.
	CreateToken(req api.TokenRequest, by string) (api.NewToken, error)
	RevokeToken(name, by string) error
	// TokenByHash returns the token whose secret has this SHA-256 and
	// records its use; *api.RevokedError if it was revoked, an error
	// wrapping api.ErrNotFound if it is unknown.
	TokenByHash(hash []byte) (api.APIToken, error)
	// SharedTokenForPeople reports whether the hub's shared token still
	// signs people in (a hub upgraded from it, until RetireSharedToken).
	SharedTokenForPeople() bool
	RetireSharedToken(by string) error

	Users() ([]api.User, error)
	AddUser(req api.UserRequest, by string) (api.User, error)
	RemoveUser(name, by string) error
	SetRole(name string, role api.Role, by string) (api.User, error)
	// UserHash returns a local account's bcrypt hash and role; an error
	// wrapping api.ErrNotFound if there is no such account.
	UserHash(name string) ([]byte, api.Role, error)

	// ReleaseLock releases a file's lock by hand, restoring every
	// target's copy as a normal release does.
	ReleaseLock(session, path, by string) (api.Released, error)
}

func (s *Server) tokens(w http.ResponseWriter, r *http.Request) {
	list, err := s.c.Tokens()
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// decodeTokenRequest reads and checks a TokenRequest body (fuzzed).
func decodeTokenRequest(w http.ResponseWriter, r *http.Request) (api.TokenRequest, bool) {
	var req api.TokenRequest
	if !decode(w, r, "token request", &req) {
		return req, false
	}
	if req.Role == "" {
		req.Role = api.RoleViewer
	}
	if err := checkTokenRequest(req); err != nil {
		writeProblem(w, http.StatusBadRequest, invalidMsg(err))
		return req, false
	}
	return req, true
}

func checkTokenRequest(req api.TokenRequest) error {
	if err := api.CheckPersonName("token", req.Name); err != nil {
		return err
	}
	if _, err := api.ParseRole(string(req.Role)); err != nil {
		return err
	}
	if req.TTL < 0 {
		return fmt.Errorf("%w: ttl %s: give a positive duration (90m, 24h), or none for a token that does not expire", api.ErrInvalid, req.TTL)
	}
	return nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	req, ok := decodeTokenRequest(w, r)
	if !ok {
		return
	}
	tok, err := s.c.CreateToken(req, caller(r).audit())
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, tok)
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	if err := s.c.RevokeToken(r.PathValue("name"), caller(r).audit()); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) retireShared(w http.ResponseWriter, r *http.Request) {
	if err := s.c.RetireSharedToken(caller(r).audit()); err != nil {
		s.fail(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) users(w http.ResponseWriter, r *http.Request) {
	list, err := s.c.Users()
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, list)
}

// decodeUserRequest reads and checks a UserRequest body (fuzzed).
func decodeUserRequest(w http.ResponseWriter, r *http.Request) (api.UserRequest, bool) {
	var req api.UserRequest
	if !decode(w, r, "account", &req) {
		return req, false
	}
	if err := checkUserRequest(req); err != nil {
		writeProblem(w, http.StatusBadRequest, invalidMsg(err))
		return req, false
	}
	return req, true
}

func checkUserRequest(req api.UserRequest) error {
	if err := api.CheckPersonName("account", req.Name); err != nil {
		return err
	}
	if _, err := api.ParseRole(string(req.Role)); err != nil {
		return err
	}
	return api.CheckPassword(req.Password)
}

func (s *Server) addUser(w http.ResponseWriter, r *http.Request) {
	req, ok := decodeUserRequest(w, r)
	if !ok {
		return
	}
	u, err := s.c.AddUser(req, caller(r).audit())
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, u)
}

func (s *Server) removeUser(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if id := caller(r); id.kind == "console" && id.name == name {
		writeProblem(w, http.StatusBadRequest, "you cannot remove the account you are signed in with: sign in as another admin first")
		return
	}
	if err := s.c.RemoveUser(name, caller(r).audit()); err != nil {
		s.fail(w, err)
		return
	}
	s.auth.forgetUser(name)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) setRole(w http.ResponseWriter, r *http.Request) {
	var req api.RoleRequest
	if !decode(w, r, "role", &req) {
		return
	}
	if _, err := api.ParseRole(string(req.Role)); err != nil {
		s.fail(w, err)
		return
	}
	name := r.PathValue("name")
	u, err := s.c.SetRole(name, req.Role, caller(r).audit())
	if err != nil {
		s.fail(w, err)
		return
	}
	s.auth.forgetUser(name) // signs in again with the new role
	writeJSON(w, http.StatusOK, u)
}

func (s *Server) releaseLock(w http.ResponseWriter, r *http.Request) {
	var req api.ReleaseRequest
	if !decode(w, r, "lock release", &req) {
		return
	}
	if req.Path == "" {
		writeProblem(w, http.StatusBadRequest, "name the locked path to release: {\"path\": \"docs/plan.docx\"} (see peerlink locks list SESSION)")
		return
	}
	rel, err := s.c.ReleaseLock(r.PathValue("name"), req.Path, caller(r).audit())
	if err != nil {
		s.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rel)
}

// invalidMsg is an ErrInvalid's message without its kind's prefix.
func invalidMsg(err error) string {
	return strings.TrimPrefix(err.Error(), api.ErrInvalid.Error()+": ")
}
