package natslink

import (
	"sync"
	"sync/atomic"

	"github.com/peerlink/peerlink/metrics"
)

// Stats counts what the links of one peer carried, across its
// reconnections, for the hub's or the agent's metrics: give the same
// Stats to every Dial (Options.Stats, Dialer). Safe for concurrent use; a
// nil *Stats counts nothing.
type Stats struct {
	framesIn, framesOut atomic.Uint64
	bytesIn, bytesOut   atomic.Uint64
	dropped, connects   atomic.Uint64

	mu  sync.Mutex
	cur *link // the latest link, whose queues Metrics reads
}

func (s *Stats) sent(n int) {
	if s != nil {
		s.framesOut.Add(1)
		s.bytesOut.Add(uint64(n))
	}
}

func (s *Stats) received(n int) {
	if s != nil {
		s.framesIn.Add(1)
		s.bytesIn.Add(uint64(n))
	}
}

func (s *Stats) drop() {
	if s != nil {
		s.dropped.Add(1)
	}
}

// connected records a new link as the current one.
func (s *Stats) connected(l *link) {
	if s != nil {
		s.connects.Add(1)
		s.mu.Lock()
		s.cur = l
		s.mu.Unlock()
	}
}

// Metrics returns the figures as the metrics package exports them. It
// never waits for the link: a busy hub or agent is when they matter.
func (s *Stats) Metrics() metrics.NATS {
	if s == nil {
		return metrics.NATS{}
	}
	m := metrics.NATS{
		FramesIn: s.framesIn.Load(), FramesOut: s.framesOut.Load(),
		BytesIn: s.bytesIn.Load(), BytesOut: s.bytesOut.Load(),
		Dropped: s.dropped.Load(), Reconnects: max(s.connects.Load(), 1) - 1,
	}
	s.mu.Lock()
	l := s.cur
	s.mu.Unlock()
	if l == nil || l.ctx.Err() != nil {
		return m
	}
	m.Connected = true
	m.Peers = int(l.npeers.Load())
	m.Assembling, m.AssemblingBytes = int(l.asmFrames.Load()), int(l.asmBytes.Load())
	if l.in != nil {
		if frames, bytes, err := l.in.Pending(); err == nil {
			m.PendingFrames, m.PendingBytes = frames, bytes
		}
	}
	return m
}
