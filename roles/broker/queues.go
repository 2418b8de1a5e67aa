package broker

// Queue is what waits in the broker for one peer: frames routed to it
// and not yet written to its connection.
type Queue struct {
	Peer   string
	Frames int
	Bytes  int
}

// Queues returns every connected peer's queue, for the metrics: a queue
// that stays long says the peer, or its link, is slower than its senders.
func (s *Server) Queues() []Queue {
	s.mu.Lock()
	peers := make([]*peer, 0, len(s.peers))
	for _, p := range s.peers {
		peers = append(peers, p)
	}
	s.mu.Unlock()
	out := make([]Queue, 0, len(peers))
	for _, p := range peers {
		frames, bytes, _, _ := p.link.out.stats()
		out = append(out, Queue{Peer: p.Name, Frames: frames, Bytes: bytes})
	}
	return out
}
