package hub

import (
	"sync"

	"github.com/peerlink/peerlink/wire"
)

// changesSeen is, by host, the Seq of the last Changes the live loop took
// in, which every Apply to that host carries as its Seen: a target that
// applies a folder rename learns which of its own reports under the old
// path the hub had not handled when it planned the rename, and reports
// those paths again at their new place (roles/agent/moved.go). Catch-ups
// read it from their own goroutines, hence the lock.
type changesSeen struct {
	mu  sync.Mutex
	seq map[string]uint64
}

// saw records that m, from host, was taken in: a host's reports come in
// the order it sent them, so the last is the highest of its attachment
// (one that numbers anew, its clock set back, is not stuck below an old
// count).
func (s *changesSeen) saw(host string, m *wire.Changes) { s.sawSeq(host, m.Seq) }

// sawClosed records that m, a close from host, was taken in, if its host
// numbers its closes: a new version reported by a close is made since any
// op planned before it, as one reported by Changes is.
func (s *changesSeen) sawClosed(host string, m *wire.Closed) {
	if m.Seq != 0 {
		s.sawSeq(host, m.Seq)
	}
}

func (s *changesSeen) sawSeq(host string, seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seq == nil {
		s.seq = map[string]uint64{}
	}
	s.seq[host] = seq
}

// get returns the last Seq taken in from host, 0 if none.
func (s *changesSeen) get(host string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seq[host]
}

// forget drops host's count: it left, and its next attachment numbers its
// reports anew.
func (s *changesSeen) forget(host string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.seq, host)
}

// reset forgets every host's count, for a new live loop.
func (s *changesSeen) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.seq)
}
