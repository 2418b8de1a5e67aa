package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/web/directory"
)

// Who may do what: every route of the server names the role it needs in
// the route table (routes, api.go), and New wraps each handler with
// authed for that role here, the one place a request's role is checked.
// A route that needs no sign-in at all says so with public.

// public marks a route anyone may call: the sign-in itself, the console's
// static files, the OpenAPI document, the health check.
const public api.Role = "public"

// identity is who made a request: for the role check and the audit trail.
type identity struct {
	kind string // "console", "token" or "shared token"
	name string // the account or the token's name
	role api.Role
	ip   string
}

// audit names the caller in the event log.
func (id identity) audit() string {
	switch id.kind {
	case "console":
		return id.name + " (console, " + id.ip + ")"
	case "token":
		return "token " + id.name + " (" + id.ip + ")"
	}
	return "the hub's shared token (" + id.ip + ")"
}

type identityKey struct{}

// caller returns the identity authed put on r.
func caller(r *http.Request) identity {
	id, _ := r.Context().Value(identityKey{}).(identity)
	return id
}

// authed lets a request through if its caller, by an API token or a
// console session, holds at least the role need; a console session's
// change (any method but GET and HEAD) must carry its CSRF token.
func (s *Server) authed(need api.Role, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := identity{ip: clientIP(r)}
		if h := r.Header.Get("Authorization"); h != "" {
			got, ok := strings.CutPrefix(h, "Bearer ")
			if !ok {
				refuse(w, http.StatusUnauthorized, "the Authorization header must be \"Bearer TOKEN\"")
				return
			}
			var msg string
			if id, msg = s.tokenIdentity(got, id); msg != "" {
				refuse(w, http.StatusUnauthorized, msg)
				return
			}
		} else {
			si := s.auth.lookup(r)
			if si == nil {
				refuse(w, http.StatusUnauthorized, errSignIn)
				return
			}
			if r.Method != http.MethodGet && r.Method != http.MethodHead && !csrfOK(r, si) {
				refuse(w, http.StatusForbidden, errCSRF)
				return
			}
			id.kind, id.name, id.role = "console", si.user, si.role
		}
		if !id.role.Allows(need) {
			s.log.Warn().Str("who", id.audit()).Str("role", string(id.role)).Str("need", string(need)).
				Str("route", r.Method+" "+r.URL.Path).Msg("refused: role too low")
			writeProblem(w, http.StatusForbidden, forbidden(id, need))
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	}
}

// forbidden says which role a refused request needed.
func forbidden(id identity, need api.Role) string {
	who := id.audit()
	if need == api.RoleAdmin {
		return "this needs the admin role; " + who + " has the " + string(id.role) + " role: ask an admin"
	}
	return "this needs the " + string(need) + " role (or admin); " + who + " has the " + string(id.role) + " role: ask an admin"
}

// The answers to a bad token, each saying what to do.
const (
	tokenHint       = ": pass an API token with --token-file, --token or PEERLINK_TOKEN (an admin makes one with peerlink tokens create; the hub's first is in its DATA/admin-token)"
	errTokenUnknown = "API token refused: the hub does not know it" + tokenHint
	errSharedToken  = "API token refused: the hub's shared token (DATA/token) is for agents and no longer signs people in" + tokenHint
)

// tokenIdentity finds who secret belongs to; a non-empty message refuses it.
func (s *Server) tokenIdentity(secret string, id identity) (identity, string) {
	if err := api.CheckTokenFormat(secret); err != nil {
		// The hub's shared token of before API tokens, which a hub
		// upgraded from it accepts until an admin retires it.
		if s.token != "" && subtle.ConstantTimeCompare([]byte(secret), []byte(s.token)) == 1 {
			if !s.c.SharedTokenForPeople() {
				return id, errSharedToken
			}
			id.kind, id.name, id.role = "shared token", "shared", api.RoleAdmin
			return id, ""
		}
		return id, "API token refused: malformed (" + strings.TrimPrefix(err.Error(), api.ErrInvalid.Error()+": ") + ")" + tokenHint
	}
	sum := sha256.Sum256([]byte(secret))
	tok, err := s.c.TokenByHash(sum[:])
	var revoked *api.RevokedError
	switch {
	case errors.As(err, &revoked):
		return id, "API token refused: " + revoked.Name + " was revoked at " + revoked.When.Format(time.RFC3339) + " by " + revoked.By + ": ask an admin for a new one" + tokenHint
	case err != nil:
		if !errors.Is(err, api.ErrNotFound) {
			s.log.Error().Err(err).Msg("token check")
		}
		return id, errTokenUnknown
	case !tok.Expires.IsZero() && !time.Now().Before(tok.Expires):
		return id, "API token refused: " + tok.Name + " expired at " + tok.Expires.Format(time.RFC3339) + ": ask an admin for a new one" + tokenHint
	}
	id.kind, id.name, id.role = "token", tok.Name, tok.Role
	return id, ""
}

// dummyHash is compared with when there is no account of the name given,
// so that a sign-in takes as long whether the account exists or not.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("no account of that name"), bcrypt.DefaultCost)

// errWrongPassword is the one answer to an unknown account and a wrong
// password, so a guesser learns neither.
var errWrongPassword = errors.New("wrong user name or password")

// checkPassword returns the role of user if password is theirs: a local
// account first, then the directory if the hub has one.
func (s *Server) checkPassword(ctx context.Context, user, password string) (api.Role, error) {
	hash, role, err := s.c.UserHash(user)
	switch {
	case err == nil:
		if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
			return "", errWrongPassword
		}
		return role, nil
	case !errors.Is(err, api.ErrNotFound):
		return "", err
	case s.dir != nil:
		return s.dir.SignIn(ctx, user, password)
	}
	_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
	return "", errWrongPassword
}

// signInRefused answers a failed sign-in with what the person can do.
func (s *Server) signInRefused(w http.ResponseWriter, ip, user string, err error) {
	log := s.log.Warn().Str("addr", ip).Str("user", user).Err(err)
	switch {
	case errors.Is(err, errWrongPassword), errors.Is(err, directory.ErrWrongPassword):
		log.Msg("console sign-in refused")
		refuse(w, http.StatusUnauthorized, errWrongPassword.Error())
	case errors.Is(err, directory.ErrNoRole):
		log.Msg("console sign-in refused: no group maps to a role")
		refuse(w, http.StatusForbidden, err.Error())
	case errors.Is(err, directory.ErrUnavailable):
		s.auth.succeeded(ip) // the directory's fault, not a guess
		log.Msg("console sign-in failed: directory unavailable")
		refuse(w, http.StatusServiceUnavailable, err.Error())
	default:
		s.auth.succeeded(ip)
		s.fail(w, err)
	}
}
