package api

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"
)

// JoinCodeRequest asks for a join code enrolling host Name, valid for TTL
// (a Go duration, "1h"; empty: the hub's default).
type JoinCodeRequest struct {
	Name string `json:"name"`
	TTL  string `json:"ttl,omitempty"`
}

// JoinCode is a new join code: Code is shown once and never stored.
type JoinCode struct {
	Name    string    `json:"name"`
	Code    string    `json:"code"`
	Expires time.Time `json:"expires"`
}

// AgentCredential is an enrolled host's credential, as the hub records it.
type AgentCredential struct {
	Name    string    `json:"name"`
	Serial  string    `json:"serial"`
	Issued  time.Time `json:"issued"`
	Revoked time.Time `json:"revoked,omitzero"`
}

// AgentAuth is how the hub admits agents: TokenAccepted while a hub
// upgraded from the shared token still accepts it for agents.
type AgentAuth struct {
	TokenAccepted bool `json:"token_accepted"`
}

// CreateJoinCode creates a join code for host name.
func (c *Client) CreateJoinCode(ctx context.Context, name string, ttl time.Duration) (JoinCode, error) {
	req := JoinCodeRequest{Name: name}
	if ttl > 0 {
		req.TTL = ttl.String()
	}
	var out JoinCode
	err := c.do(ctx, http.MethodPost, "/api/v1/join-codes", req, &out)
	return out, err
}

// AgentCredentials lists the enrolled hosts' credentials.
func (c *Client) AgentCredentials(ctx context.Context) ([]AgentCredential, error) {
	var out []AgentCredential
	err := c.do(ctx, http.MethodGet, "/api/v1/agent-credentials", nil, &out)
	return out, err
}

// RevokeAgent revokes host name's credential and drops its connection.
func (c *Client) RevokeAgent(ctx context.Context, name string) (AgentCredential, error) {
	var out AgentCredential
	err := c.do(ctx, http.MethodPost, "/api/v1/agent-credentials/"+url.PathEscape(name)+"/revoke", nil, &out)
	return out, err
}

// RequireCerts ends the shared token's use by agents.
func (c *Client) RequireCerts(ctx context.Context) (AgentAuth, error) {
	var out AgentAuth
	err := c.do(ctx, http.MethodPost, "/api/v1/agent-auth/require-certs", nil, &out)
	return out, err
}

// BrokerCertRequest asks the hub's CA for a standalone broker's server
// certificate: for the key of CSR (PEM CERTIFICATE REQUEST, made on the
// broker's host), naming Names, the host names and IP addresses the hub
// and agents reach the broker by.
type BrokerCertRequest struct {
	Names []string `json:"names"`
	CSR   string   `json:"csr"`
}

// BrokerCert is the certificate issued, and the hub's CA (PEM both): the
// broker's --client-ca.
type BrokerCert struct {
	Certificate string    `json:"certificate"`
	CA          string    `json:"ca"`
	Expires     time.Time `json:"expires"`
}

// CreateBrokerCert has the hub's CA sign a standalone broker's key.
func (c *Client) CreateBrokerCert(ctx context.Context, req BrokerCertRequest) (BrokerCert, error) {
	var out BrokerCert
	err := c.do(ctx, http.MethodPost, "/api/v1/broker-certs", req, &out)
	return out, err
}

// ErrDenied is wrapped by refusals of what a caller may not do, such as a
// join with a used code (403).
var ErrDenied = errors.New("denied")
