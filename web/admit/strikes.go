package admit

import (
	"sync"
	"time"
)

// maxTracked bounds the addresses a Strikes remembers: a flood from many
// addresses forgets the oldest windows rather than growing without end.
const maxTracked = 10_000

// Strikes counts the refused requests of each address (by Key) within a
// window, and refuses an address that reached its limit until its window
// ends: what a client may guess (a password, a join code) costs it time.
// It is safe for concurrent use.
type Strikes struct {
	limit  int
	window time.Duration
	now    func() time.Time

	mu     sync.Mutex
	byAddr map[string]*strikes
}

type strikes struct {
	start time.Time // of the window
	n     int
}

// NewStrikes returns a Strikes that refuses an address with limit strikes
// in the window that began at its first one; now is the clock.
func NewStrikes(limit int, window time.Duration, now func() time.Time) *Strikes {
	return &Strikes{limit: limit, window: window, now: now, byAddr: map[string]*strikes{}}
}

// Wait reports how long requests from remoteAddr are still refused: 0 if
// they are not.
func (s *Strikes) Wait(remoteAddr string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := Key(remoteAddr)
	st := s.byAddr[k]
	if st == nil {
		return 0
	}
	now := s.now()
	if now.Sub(st.start) >= s.window {
		delete(s.byAddr, k)
		return 0
	}
	if st.n < s.limit {
		return 0
	}
	return st.start.Add(s.window).Sub(now)
}

// Strike counts one refused request from remoteAddr.
func (s *Strikes) Strike(remoteAddr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := Key(remoteAddr)
	now := s.now()
	st := s.byAddr[k]
	if st != nil && now.Sub(st.start) >= s.window {
		st = nil
	}
	if st == nil {
		if len(s.byAddr) >= maxTracked {
			s.sweep(now)
		}
		st = &strikes{start: now}
		s.byAddr[k] = st
	}
	st.n++
}

// sweep forgets the windows that ended, then, if that is not enough (a
// flood from many addresses), any.
func (s *Strikes) sweep(now time.Time) {
	for k, st := range s.byAddr {
		if now.Sub(st.start) >= s.window {
			delete(s.byAddr, k)
		}
	}
	for k := range s.byAddr {
		if len(s.byAddr) < maxTracked {
			break
		}
		delete(s.byAddr, k)
	}
}
