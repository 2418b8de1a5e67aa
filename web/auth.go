package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/peerlink/peerlink/web/admit"
	"github.com/peerlink/peerlink/web/api"
)

// Two ways in, to the same handlers: the CLI and scripts present an API
// token (Authorization: Bearer), which no browser sends on its own, so
// needs no CSRF token; the console signs in with an account's password
// (local, or checked against the directory) and gets a cookie session,
// which a browser sends with every request to the hub, so every change it
// makes must also carry the session's CSRF token. Either way the request
// has a role, which the route table checks (authz.go).
//
// Cookie sessions live in memory: a hub restart signs every console out.

// AdminUser is the account that today's admin password signs in as, and
// the one a sign-in without a user name is for.
const AdminUser = "admin"

// Sign-in limits.
const (
	// SessionCookie names the console's session cookie.
	SessionCookie = "peerlink_session"
	// sessionTTL is how long a sign-in lasts, from the moment it was made.
	sessionTTL = 12 * time.Hour
	// maxFailures failed sign-ins from one address within failureWindow
	// refuse every further attempt from it until the window passes.
	maxFailures   = 5
	failureWindow = time.Minute
	// maxSignIns bounds the sessions kept: the oldest go first.
	maxSignIns = 1000
	// maxTracked bounds the addresses whose failures are counted.
	maxTracked = 10000
	// maxAllFailures failed sign-ins from all addresses together within
	// failureWindow refuse every sign-in until it passes: many addresses
	// (an IPv6 network holds more than anyone can count) must not multiply
	// the guesses. The console is shut for a minute at worst.
	maxAllFailures = 60
	// maxHashing bounds the password checks run at once: bcrypt costs
	// tens of milliseconds of CPU the hub shares with its broker.
	maxHashing = 2
	// maxSigningIn bounds the sign-ins served at once, maxAddrSigningIn
	// of them from one address (IPv6: one /64): a sign-in's body is read
	// from a stranger, who must not pile up slow or many of them. One
	// beyond waits signInWait for a place, then is refused.
	maxSigningIn     = 16
	maxAddrSigningIn = 4
	signInWait       = time.Second
	// maxSignInBody bounds a sign-in's body: a password (bcrypt takes 72
	// bytes at most) in JSON needs far less.
	maxSignInBody = 4 << 10
)

// MinPasswordLen is the shortest password accepted.
const MinPasswordLen = api.MinPasswordLen

// HashPassword returns the bcrypt hash to store for an account's password.
func HashPassword(pw string) ([]byte, error) {
	return bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
}

// signIns holds the cookie sessions and the failed sign-ins per address.
type signIns struct {
	now func() time.Time

	mu       sync.Mutex
	sessions map[[32]byte]*consoleSession // by the SHA-256 of the cookie's value
	failures map[string]*failures         // by client address (admit.Key)
	all      failures                     // every address's together
	hashing  chan struct{}                // a slot per password check running
	serving  *admit.Bound                 // the sign-ins being served
}

type consoleSession struct {
	csrf    string
	expires time.Time
	user    string
	role    api.Role
}

type failures struct {
	start time.Time // of the window
	n     int
}

func newSignIns(now func() time.Time) *signIns {
	return &signIns{now: now, sessions: map[[32]byte]*consoleSession{}, failures: map[string]*failures{},
		hashing: make(chan struct{}, maxHashing), serving: admit.New(maxSigningIn, maxAddrSigningIn, signInWait)}
}

func randomToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// attempt reserves a sign-in attempt from ip, counted as a failure until
// succeeded says otherwise; wait > 0 refuses it for that long, for
// everyone when every address's failures together are the cause (ip then
// may never have tried before).
func (s *signIns) attempt(ip string) (wait time.Duration, everyone bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if now.Sub(s.all.start) >= failureWindow {
		s.all = failures{start: now}
	}
	if s.all.n >= maxAllFailures {
		return s.all.start.Add(failureWindow).Sub(now), true
	}
	ip = admit.Key(ip)
	f := s.failures[ip]
	if f != nil && now.Sub(f.start) >= failureWindow {
		delete(s.failures, ip)
		f = nil
	}
	if f == nil {
		if len(s.failures) >= maxTracked {
			s.sweepFailures(now)
		}
		f = &failures{start: now}
		s.failures[ip] = f
	}
	if f.n >= maxFailures {
		return f.start.Add(failureWindow).Sub(now), false
	}
	f.n++
	s.all.n++
	return 0, false
}

// succeeded takes back the failure attempt counted in advance.
func (s *signIns) succeeded(ip string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.failures[admit.Key(ip)]; f != nil && f.n > 0 {
		f.n--
	}
	if s.all.n > 0 {
		s.all.n--
	}
}

func (s *signIns) sweepFailures(now time.Time) {
	for ip, f := range s.failures {
		if now.Sub(f.start) >= failureWindow {
			delete(s.failures, ip)
		}
	}
	for ip := range s.failures { // still full: an address flood; start over
		if len(s.failures) < maxTracked {
			break
		}
		delete(s.failures, ip)
	}
}

// create starts a cookie session of user, with role, and returns the
// cookie's value and the session's CSRF token.
func (s *signIns) create(user string, role api.Role) (cookie, csrf string) {
	cookie, csrf = randomToken(), randomToken()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, si := range s.sessions {
		if !now.Before(si.expires) {
			delete(s.sessions, k)
		}
	}
	for len(s.sessions) >= maxSignIns {
		var oldest [32]byte
		var at time.Time
		for k, si := range s.sessions {
			if at.IsZero() || si.expires.Before(at) {
				oldest, at = k, si.expires
			}
		}
		delete(s.sessions, oldest)
	}
	s.sessions[sha256.Sum256([]byte(cookie))] = &consoleSession{csrf: csrf, expires: now.Add(sessionTTL), user: user, role: role}
	return cookie, csrf
}

// lookup returns the live session of r's cookie, or nil.
func (s *signIns) lookup(r *http.Request) *consoleSession {
	c, err := r.Cookie(SessionCookie)
	if err != nil || c.Value == "" {
		return nil
	}
	k := sha256.Sum256([]byte(c.Value))
	s.mu.Lock()
	defer s.mu.Unlock()
	si := s.sessions[k]
	if si == nil {
		return nil
	}
	if !s.now().Before(si.expires) {
		delete(s.sessions, k)
		return nil
	}
	return si
}

// forget ends the session of r's cookie.
func (s *signIns) forget(r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		s.mu.Lock()
		delete(s.sessions, sha256.Sum256([]byte(c.Value)))
		s.mu.Unlock()
	}
}

// forgetUser ends every session of the named user: the account was
// removed or its role changed, which the next sign-in takes up.
func (s *signIns) forgetUser(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, si := range s.sessions {
		if si.user == name {
			delete(s.sessions, k)
		}
	}
}

// clientIP is the address a request came from. A proxy in front of the
// hub makes every client share its address, for the sign-in limit too.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func sessionCookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: SessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil}
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	ip := clientIP(r)
	leave, err := s.auth.serving.Enter(r.Context(), r.RemoteAddr)
	if err != nil {
		code := http.StatusServiceUnavailable
		if errors.Is(err, admit.ErrAddrBusy) {
			code = http.StatusTooManyRequests
		}
		w.Header().Set("Retry-After", "1")
		refuse(w, code, "sign-in refused: "+err.Error()+" from "+ip+": try again in a moment")
		return
	}
	defer leave()
	// The body first: a request whose body never comes guesses no
	// password, and must not count against its address.
	var req api.LoginRequest
	r.Body = http.MaxBytesReader(w, r.Body, maxSignInBody)
	if !decode(w, r, "sign-in", &req) {
		return
	}
	if wait, everyone := s.auth.attempt(ip); wait > 0 {
		secs := strconv.Itoa(int((wait + time.Second - 1) / time.Second))
		w.Header().Set("Retry-After", secs)
		// The address counted: for IPv6 its /64, which this one may
		// share with the addresses that tried.
		msg := "too many wrong passwords from " + admit.Key(ip) + ": try again in " + secs + " s"
		if everyone {
			msg = "too many wrong passwords from all addresses together in the last minute: sign-in is closed to everyone; try again in " + secs + " s"
		}
		refuse(w, http.StatusTooManyRequests, msg)
		return
	}
	user := req.User
	if user == "" {
		user = AdminUser
	}
	select {
	case s.auth.hashing <- struct{}{}:
	case <-r.Context().Done():
		return
	}
	role, err := s.checkPassword(r.Context(), user, req.Password)
	<-s.auth.hashing
	if err != nil {
		s.signInRefused(w, ip, user, err)
		return
	}
	s.auth.succeeded(ip)
	cookie, csrf := s.auth.create(user, role)
	http.SetCookie(w, sessionCookie(r, cookie, int(sessionTTL/time.Second)))
	s.log.Info().Str("addr", ip).Str("user", user).Str("role", string(role)).Msg("console signed in")
	writeJSON(w, http.StatusOK, api.Me{User: user, Role: role, CSRF: csrf, Warnings: s.c.Status().Warnings})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if si := s.auth.lookup(r); si != nil {
		if !csrfOK(r, si) {
			writeProblem(w, http.StatusForbidden, errCSRF)
			return
		}
		s.auth.forget(r)
		s.log.Info().Str("addr", clientIP(r)).Msg("console signed out")
	}
	http.SetCookie(w, sessionCookie(r, "", -1))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	si := s.auth.lookup(r)
	if si == nil {
		writeProblem(w, http.StatusUnauthorized, errSignIn)
		return
	}
	writeJSON(w, http.StatusOK, api.Me{User: si.user, Role: si.role, CSRF: si.csrf, Warnings: s.c.Status().Warnings})
}

const (
	errSignIn = "sign in"
	errCSRF   = "missing or wrong CSRF token: reload the console"
)

// csrfOK reports whether r carries si's CSRF token.
func csrfOK(r *http.Request, si *consoleSession) bool {
	got := r.Header.Get("X-CSRF-Token")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(si.csrf)) == 1
}

// refuse answers a request that is not let in and closes its connection:
// a body it still has to send is not waited for, so a stranger cannot
// hold the connection by trickling one.
func refuse(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Connection", "close")
	writeProblem(w, code, msg)
}
