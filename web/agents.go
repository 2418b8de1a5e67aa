package web

import (
	"crypto/x509"
	"errors"
	"net/http"

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
	}
}

func (s *Server) enroller(w http.ResponseWriter) Enroller {
	if s.agents == nil {
		writeProblem(w, http.StatusNotFound, "this hub does not enrol agents")
	}
	return s.agents
}

func (s *Server) join(w http.ResponseWriter, r *http.Request) {
	e := s.enroller(w)
	if e == nil {
		return
	}
	if r.TLS == nil {
		writeProblem(w, http.StatusBadRequest, "joining needs TLS: this hub serves plain HTTP (--insecure-plain)")
		return
	}
	req, csr, err := enrol.DecodeRequest(http.MaxBytesReader(w, r.Body, enrol.MaxRequest+1))
	if err != nil {
		writeProblem(w, http.StatusBadRequest, err.Error()+": run a peerlink agent of the hub's version with --join")
		return
	}
	resp, err := e.Join(req, csr, r.Host)
	if err != nil {
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

// failAgents is fail with refusals (api.ErrDenied) answered 403.
func (s *Server) failAgents(w http.ResponseWriter, err error) {
	if errors.Is(err, api.ErrDenied) {
		writeProblem(w, http.StatusForbidden, err.Error()[len(api.ErrDenied.Error())+2:])
		return
	}
	s.fail(w, err)
}
