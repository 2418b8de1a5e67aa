package broker

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"

	"github.com/peerlink/peerlink/web/certs"
	"github.com/peerlink/peerlink/wire"
)

// handshake reads the Hello that must open conn, admits or refuses its
// sender, and returns the registered peer, or nil once conn is refused.
func (s *Server) handshake(conn *websocket.Conn, addr string, state *tls.ConnectionState) *peer {
	conn.SetReadDeadline(time.Now().Add(s.t.hello))
	mt, b, err := conn.ReadMessage()
	if errors.Is(err, websocket.ErrReadLimit) {
		// The connection has been closed with "message too big".
		s.log.Warn().Str("addr", addr).Int("limit", wire.MaxHello).Msg("peer refused: its hello is larger than a hello can be")
		return nil
	}
	if err != nil {
		s.log.Debug().Err(err).Str("addr", addr).Msg("no hello")
		return nil
	}
	h, werr := s.checkHello(mt, b, state)
	if werr != nil {
		s.refuse(conn, addr, h, werr)
		return nil
	}
	p := &peer{
		PeerInfo: PeerInfo{Name: h.Name, Role: h.Role, Version: h.Version, Addr: addr, Since: time.Now()},
		link:     newLink(conn, s.lim, s.t),
		gone:     make(chan struct{}),
	}
	if state != nil && len(state.VerifiedChains) > 0 && s.authorize != nil {
		// authenticate took h's name and role from this very certificate.
		p.Certified = true
		p.id, _ = certs.IdentityOf(state.VerifiedChains[0][0])
	}
	if werr := s.register(p); werr != nil {
		s.refuse(conn, addr, h, werr)
		return nil
	}
	b, err = wire.Marshal(p.Name, 0, 0, &wire.Welcome{Protocol: wire.ProtocolVersion, Version: s.version}, nil)
	if err == nil {
		conn.SetWriteDeadline(time.Now().Add(s.t.write))
		err = conn.WriteMessage(websocket.BinaryMessage, b)
	}
	if err != nil {
		s.log.Debug().Err(err).Str("name", p.Name).Str("addr", addr).Msg("welcome not delivered")
		p.link.end(err, websocket.CloseGoingAway, "")
		s.unregister(p)
		return nil
	}
	return p
}

// checkHello decodes and checks a Hello: protocol first (so a peer of
// another version learns which side to upgrade, whatever else changed),
// then the token, then the name. It returns what it could decode of the
// Hello even when refusing, for the log.
func (s *Server) checkHello(mt int, b []byte, state *tls.ConnectionState) (*wire.Hello, *wire.Error) {
	h := new(wire.Hello)
	if mt != websocket.BinaryMessage {
		return h, &wire.Error{Kind: wire.KindInvalid, Msg: "expected a binary hello frame: is this a peerlink agent or hub?"}
	}
	f, err := wire.DecodeFrame(b)
	if err != nil {
		return h, &wire.Error{Kind: wire.KindInvalid, Msg: fmt.Sprintf("expected a hello frame: %v", err)}
	}
	if f.Type != wire.TypeHello {
		return h, &wire.Error{Kind: wire.KindInvalid, Msg: fmt.Sprintf("expected a hello frame first, not %q", f.Type)}
	}
	// Leniently: a Hello of another protocol may have fields this one lacks.
	_ = json.Unmarshal(f.Body, h)
	if h.Protocol != wire.ProtocolVersion {
		who := string(h.Role)
		if h.Role != wire.RoleAgent && h.Role != wire.RoleHub {
			who = "peer"
		}
		return h, &wire.Error{Kind: wire.KindInvalid, Msg: fmt.Sprintf("%s speaks protocol %d, broker speaks %d: run the same peerlink version on hub and agents", who, h.Protocol, wire.ProtocolVersion)}
	}
	if werr := s.authenticate(h, state); werr != nil {
		return h, werr
	}
	m, err := wire.Decode(f)
	if err != nil {
		return h, &wire.Error{Kind: wire.KindInvalid, Msg: err.Error()}
	}
	return m.(*wire.Hello), nil
}

// refuse tells the peer why, closes the WebSocket cleanly and waits briefly
// for the peer to close its side, so the Refused frame is not lost to a TCP
// reset.
func (s *Server) refuse(conn *websocket.Conn, addr string, h *wire.Hello, werr *wire.Error) {
	s.log.Warn().Str("addr", addr).Str("name", clip(h.Name)).Str("role", clip(string(h.Role))).Str("version", clip(h.Version)).
		Str("reason", werr.Error()).Msg("peer refused")
	b, err := wire.Marshal("", 0, 0, &wire.Refused{Error: *werr}, nil)
	if err != nil {
		return
	}
	deadline := time.Now().Add(s.t.close)
	conn.SetWriteDeadline(deadline)
	if conn.WriteMessage(websocket.BinaryMessage, b) != nil {
		return
	}
	if conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "refused"), deadline) != nil {
		return
	}
	conn.SetReadDeadline(deadline)
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			return
		}
	}
}

// clip bounds what a refused peer chose to send before it reaches the log.
func clip(s string) string {
	if len(s) > wire.MaxNameLen {
		return s[:wire.MaxNameLen] + "..."
	}
	return s
}
