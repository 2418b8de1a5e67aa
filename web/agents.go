package web

import (
	"crypto/x509"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/peerlink/peerlink/web/admit"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/web/enrol"
)

// Enroller is what the API needs of the hub for agents' credentials: join
// codes, the join itself, and revocation.
type Enroller interface {
	CreateJoinCode(name, ttl, user string) (api.JoinCode, error)
	// Join enrols the sender of a decoded join request; host is the
	// address the request was sent to.
	Join(req enrol.Request, csr *x509.CertificateRequest, host string) (enrol.Response, error)
	AgentCredentials() ([]api.AgentCredential, error)
	RevokeAgent(name, user string) (api.AgentCredential, error)
	RequireCerts(user string) (api.AgentAuth, error)
	// CreateBrokerCert signs a standalone broker's server certificate.
	CreateBrokerCert(req api.BrokerCertRequest, user string) (api.BrokerCert, error)
}

// agentRoutes are the routes of agents' enrolment. The join itself takes
// no token or sign-in: its join code is its credential.
func (s *Server) agentRoutes() []route {
	return []route{
		// A join is authenticated by its code, not by a person.
		{"POST " + enrol.Path, public, s.join},
		{"POST /api/v1/join-codes", api.RoleAdmin, s.createJoinCode},
		{"GET /api/v1/agent-credentials", api.RoleViewer, s.agentCredentials},
		{"POST /api/v1/agent-credentials/{name}/revoke", api.RoleAdmin, s.revokeAgent},
		{"POST /api/v1/agent-auth/require-certs", api.RoleAdmin, s.requireCerts},
		{"POST /api/v1/broker-certs", api.RoleAdmin, s.createBrokerCert},
	}
}

func (s *Server) enroller(w http.ResponseWriter) Enroller {
	if s.agents == nil {
		writeProblem(w, http.StatusNotFound, "this hub does not enrol agents")
	}
	return s.agents
}

// Bounds on joins, which anyone who reaches the hub's port may send: each
// costs a certificate request's check and a write to hub.db, and each
// refused one is a guess at a join code.
const (
	// maxJoining joins are served at once, maxAddrJoining of them from
	// one address (for IPv6, its /64); one more from that address is
	// refused at once with 429, one beyond maxJoining waits joinWait for
	// a place, then gets 503.
	maxJoining     = 8
	maxAddrJoining = 2
	joinWait       = time.Second
	// maxJoinRefusals refused joins from one address within joinWindow
	// (a bad request, an unknown, used or expired code) refuse its joins
	// until the window ends: a new host joins at the first try.
	maxJoinRefusals = 10
	joinWindow      = time.Minute
)

func (s *Server) join(w http.ResponseWriter, r *http.Request) {
	e := s.enroller(w)
	if e == nil {
		return
	}
	if r.TLS == nil {
		writeProblem(w, http.StatusBadRequest, "joining needs TLS: this hub serves plain HTTP (--insecure-plain)")
		return
	}
	ip := clientIP(r)
	leave, err := s.joins.Enter(r.Context(), r.RemoteAddr)
	if err != nil {
		code := http.StatusServiceUnavailable
		if errors.Is(err, admit.ErrAddrBusy) {
			code = http.StatusTooManyRequests
		}
		w.Header().Set("Retry-After", "1")
		refuse(w, code, "join refused: "+err.Error()+" from "+ip+": try again in a moment")
		return
	}
	defer leave()
	if wait := s.joinStrikes.Wait(r.RemoteAddr); wait > 0 {
		secs := strconv.Itoa(int((wait + time.Second - 1) / time.Second))
		w.Header().Set("Retry-After", secs)
		refuse(w, http.StatusTooManyRequests, "too many refused joins from "+admit.Key(ip)+
			": try again in "+secs+" s, with a join code just made by peerlink join-code create --name HOST")
		return
	}
	req, csr, err := enrol.DecodeRequest(http.MaxBytesReader(w, r.Body, enrol.MaxRequest+1))
	if err != nil {
		s.joinStrikes.Strike(r.RemoteAddr)
		writeProblem(w, http.StatusBadRequest, err.Error()+": run a peerlink agent of the hub's version with --join")
		return
	}
	resp, err := e.Join(req, csr, r.Host)
	if err != nil {
		if errors.Is(err, api.ErrDenied) {
			s.joinStrikes.Strike(r.RemoteAddr)
		}
		s.failAgents(w, err)
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) createJoinCode(w http.ResponseWriter, r *http.Request) {
	e := s.enroller(w)
	if e == nil {
		return
	}
	var req api.JoinCodeRequest
	if !decode(w, r, "join code request", &req) {
		return
	}
	jc, err := e.CreateJoinCode(req.Name, req.TTL, caller(r).audit())
	if err != nil {
		s.failAgents(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, jc)
}

func (s *Server) agentCredentials(w http.ResponseWriter, r *http.Request) {
	e := s.enroller(w)
	if e == nil {
		return
	}
	list, err := e.AgentCredentials()
	if err != nil {
		s.fail(w, err)
		return
	}
	if list == nil {
		list = []api.AgentCredential{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) revokeAgent(w http.ResponseWriter, r *http.Request) {
	e := s.enroller(w)
	if e == nil {
		return
	}
	c, err := e.RevokeAgent(r.PathValue("name"), caller(r).audit())
	if err != nil {
		s.failAgents(w, err)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

func (s *Server) requireCerts(w http.ResponseWriter, r *http.Request) {
	e := s.enroller(w)
	if e == nil {
		return
	}
	a, err := e.RequireCerts(caller(r).audit())
	if err != nil {
		s.failAgents(w, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) createBrokerCert(w http.ResponseWriter, r *http.Request) {
	e := s.enroller(w)
	if e == nil {
		return
	}
	var req api.BrokerCertRequest
	if !decode(w, r, "broker certificate request", &req) {
		return
	}
	bc, err := e.CreateBrokerCert(req, caller(r).audit())
	if err != nil {
		s.failAgents(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, bc)
}

// failAgents is fail with refusals (api.ErrDenied) answered 403.
func (s *Server) failAgents(w http.ResponseWriter, err error) {
	if errors.Is(err, api.ErrDenied) {
		writeProblem(w, http.StatusForbidden, err.Error()[len(api.ErrDenied.Error())+2:])
		return
	}
	s.fail(w, err)
}
