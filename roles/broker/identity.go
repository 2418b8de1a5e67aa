package broker

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"

	"github.com/peerlink/peerlink/web/certs"
	"github.com/peerlink/peerlink/wire"
)

// Authorizer decides, at every handshake, whether the holder of a client
// certificate the TLS layer verified may connect: the hub answers from
// hub.db (revoked, or replaced by a newer join). Its error is told to the
// peer, so it says what to do.
type Authorizer func(id certs.Identity) error

// SetAuthorizer has the broker admit peers by their verified client
// certificate, the name and role of which the broker takes from the
// certificate, never from the Hello. A peer without a certificate is then
// admitted by token only as an agent, and only while the broker has a token
// (a hub upgraded from the shared token, until `peerlink agents
// require-certs`). Call it before Serve.
func (s *Server) SetAuthorizer(a Authorizer) { s.authorize = a }

// SetToken replaces the token agents without a certificate may present;
// the empty string admits none. The hub calls it when the operator ends
// the shared token's use.
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenSum = sha256.Sum256([]byte(token))
	s.noToken = token == ""
}

// authenticate admits h's sender by its certificate or its token.
func (s *Server) authenticate(h *wire.Hello, state *tls.ConnectionState) *wire.Error {
	if state != nil && len(state.VerifiedChains) > 0 && s.authorize != nil {
		id, err := certs.IdentityOf(state.VerifiedChains[0][0])
		if err != nil {
			return &wire.Error{Kind: wire.KindPermission, Msg: err.Error()}
		}
		if string(h.Role) != id.Role || h.Name != id.Name {
			return &wire.Error{Kind: wire.KindPermission, Msg: fmt.Sprintf("this connection's certificate is for %s %q, but its hello claims to be %s %q: "+
				"an agent is the host it joined as; run it without --name, or join with a code for that host", id.Role, id.Name, h.Role, h.Name)}
		}
		return authorizeErr(s.authorize(id))
	}
	s.mu.Lock()
	sum, noToken := s.tokenSum, s.noToken
	s.mu.Unlock()
	// Compare digests so the time taken does not depend on the token's
	// length or content.
	got := sha256.Sum256([]byte(h.Token))
	ok := !noToken && subtle.ConstantTimeCompare(got[:], sum[:]) == 1
	switch {
	case s.authorize != nil && (noToken || h.Role != wire.RoleAgent):
		return &wire.Error{Kind: wire.KindPermission, Msg: "this hub admits agents by certificate: enrol this host with a join code " +
			"(`peerlink join-code create --name HOST` where the hub runs, then `peerlink agent --join CODE --hub https://HUB:8181 --data DIR` here)"}
	case !ok:
		return &wire.Error{Kind: wire.KindPermission, Msg: "token refused: copy the token from the hub's DATA/token file"}
	}
	return nil
}

// authorizeErr is an Authorizer's refusal as the peer is told it: a
// *wire.Error keeps its kind (transient: the peer tries again), anything
// else is a permission refusal.
func authorizeErr(err error) *wire.Error {
	if err == nil {
		return nil
	}
	var we *wire.Error
	if errors.As(err, &we) {
		return we
	}
	return &wire.Error{Kind: wire.KindPermission, Msg: err.Error()}
}

// AgentRecord is what the hub recorded of an enrolled host's credential:
// the serial of its current certificate, and when it was revoked (zero:
// it is not).
type AgentRecord struct {
	Serial  string
	Revoked time.Time
}

// CheckAgent is the one rule by which a broker, embedded or standalone,
// admits an agent's verified certificate id, given the hub's record of
// its host (nil: the hub has none). Its error says what to do.
func CheckAgent(id certs.Identity, rec *AgentRecord) error {
	rejoin := fmt.Sprintf("create a join code for it (peerlink join-code create --name %s) and run the agent once with --join CODE", id.Name)
	switch {
	case rec == nil:
		return fmt.Errorf("agent %s holds a certificate this hub has no record of: %s", id.Name, rejoin)
	case !rec.Revoked.IsZero():
		return fmt.Errorf("agent %s's credential was revoked at %s: to enrol it again, %s", id.Name, rec.Revoked.Format(time.RFC3339), rejoin)
	case rec.Serial != id.Serial:
		return fmt.Errorf("agent %s presents a certificate replaced by a later join: run it with the --data folder of that join, or %s", id.Name, rejoin)
	}
	return nil
}

// recheck asks the authorizer again about every peer admitted by its
// certificate, and drops at once those it now refuses, telling them why:
// a standalone broker does so when the hub's credentials change.
func (s *Server) recheck() {
	if s.authorize == nil {
		return
	}
	s.mu.Lock()
	peers := make([]*peer, 0, len(s.peers))
	for _, p := range s.peers {
		if p.Certified {
			peers = append(peers, p)
		}
	}
	s.mu.Unlock()
	for _, p := range peers {
		if err := s.authorize(p.id); err != nil {
			s.log.Warn().Str("name", p.Name).Str("addr", p.Addr).Str("serial", p.id.Serial).Err(err).Msg("credential no longer valid; dropping the peer")
			p.link.end(fmt.Errorf("dropped: %w", err), websocket.ClosePolicyViolation, clipReason(err.Error()))
		}
	}
}

// clipReason fits a reason into a WebSocket close frame (123 bytes).
func clipReason(s string) string {
	if len(s) > 120 {
		return s[:120]
	}
	return s
}

// Drop ends the connection of the peer named name at once, telling it why;
// false if none is connected. The hub drops an agent whose credential it
// revoked.
func (s *Server) Drop(name, why string) bool {
	s.mu.Lock()
	p := s.peers[name]
	s.mu.Unlock()
	if p == nil {
		return false
	}
	p.link.end(fmt.Errorf("dropped: %s", why), websocket.ClosePolicyViolation, why)
	return true
}
