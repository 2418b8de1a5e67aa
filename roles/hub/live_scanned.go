package hub

import (
	"sync"

	"github.com/peerlink/peerlink/wire"
)

// scanMarks is, by host, the Seq of the last live report that its
// start-up scan covers (wire.ScanPart.Reported): the agent sent it before
// the scan walked its root, so the scan saw what it said, and the merge
// decided from that. Carried once the session runs, such a report would
// undo the merge's decision (make chaos, seed 30224: a folder removed as
// the session started, brought back to its host by the merge, then
// removed on every other host by the removal's late report). The start-up
// sets the marks, the live loop reads them; hence the lock.
type scanMarks struct {
	mu  sync.Mutex
	seq map[string]uint64
}

// reset forgets every mark, for a new start-up's scans.
func (s *scanMarks) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.seq)
}

// set records host's mark; 0 (an agent that does not tell) is none.
func (s *scanMarks) set(host string, seq uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq == 0 {
		delete(s.seq, host)
		return
	}
	if s.seq == nil {
		s.seq = map[string]uint64{}
	}
	s.seq[host] = seq
}

// covers says whether host's report numbered seq is one its scan covers.
// A host's reports come in the order it sent them: the first one above
// the mark ends it.
func (s *scanMarks) covers(host string, seq uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	mark, ok := s.seq[host]
	if !ok {
		return false
	}
	if seq > mark {
		delete(s.seq, host)
		return false
	}
	return true
}

// forget drops host's mark: it left, and its next attachment numbers its
// reports anew.
func (s *scanMarks) forget(host string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.seq, host)
}

// scannedBefore says whether m, from host, is a report that host's
// start-up scan covers, and if so drops it: it counts as taken in (the
// Seen of later Applies), and is not carried.
func (r *run) scannedBefore(host string, m *wire.Changes) bool {
	if !r.scanned.covers(host, m.Seq) {
		return false
	}
	r.seen.saw(host, m)
	for _, ch := range m.Changes {
		r.log.Debug().Str("host", host).Str("kind", ch.Kind.String()).Str("path", ch.Path).Str("why", "before-scan").
			Uint64("seq", m.Seq).Msg("live change not carried")
	}
	return true
}
