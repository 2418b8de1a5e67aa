package broker

import (
	"fmt"

	"github.com/peerlink/peerlink/wire"
)

// brokerOnly are the message types only the broker may send; a peer
// sending one is buggy or hostile (a forged Peer notice, say).
var brokerOnly = map[wire.Type]bool{
	wire.TypeHello:   true,
	wire.TypeWelcome: true,
	wire.TypeRefused: true,
	wire.TypePeer:    true,
}

// route forwards one frame from p to its destination. Only the header is
// decoded and re-encoded, with From set to p's authenticated name; the data
// is forwarded as received. It blocks while the destination's queue is
// full, which stops p's reader: the back-pressure reaches p through TCP.
// An error means the frame was malformed, and ends p.
func (s *Server) route(p *peer, b []byte) error {
	// Reframe decodes the header as DecodeFrame and sets From without
	// decoding the body when it can (see wire.Reframe).
	f, hdr, err := wire.Reframe(b, p.Name)
	if err == nil && f.Type == wire.TypeCredentials {
		return s.takeCredentials(p, f)
	}
	if err == nil && brokerOnly[f.Type] {
		err = fmt.Errorf("%w: %s frames come only from the broker", wire.ErrFrame, f.Type)
	}
	if err != nil {
		s.log.Warn().Str("name", p.Name).Str("addr", p.Addr).Err(err).Msg("malformed frame; disconnecting the peer")
		return err
	}

	if dst := s.lookup(f.To); dst != nil {
		err := dst.link.out.put(p.link.ctx, outFrame{hdr: hdr, data: f.Data})
		if err == nil || p.link.ctx.Err() != nil {
			return nil
		}
		// The destination went away while the frame waited for room.
	}
	s.unreachable(p, f)
	return nil
}

func (s *Server) lookup(name string) *peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.peers[name]
}

// unreachable answers a request for a destination that is not connected
// with a Fail, so the requester need not wait for its timeout; anything else
// is dropped.
func (s *Server) unreachable(p *peer, f wire.Frame) {
	if f.ID == 0 {
		s.log.Debug().Str("from", p.Name).Str("to", f.To).Str("type", string(f.Type)).Msg("destination not connected; frame dropped")
		return
	}
	msg := fmt.Sprintf("%s is not connected", f.To)
	if f.To == "" {
		msg = "the frame names no destination"
	}
	b, err := wire.Marshal(p.Name, 0, f.ID, &wire.Fail{Error: wire.Error{Kind: wire.KindUnreachable, Op: string(f.Type), Msg: msg}}, nil)
	if err != nil {
		s.log.Error().Err(err).Msg("encode fail")
		return
	}
	_ = p.link.out.put(p.link.ctx, outFrame{hdr: b}) // fails only when p is ending
}
