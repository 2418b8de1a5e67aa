package hub

import (
	"slices"
	"sync"

	"github.com/peerlink/peerlink/web/api"
)

// The hub's change notices, for the console's live feed. A notice says
// only what changed (the sessions, one session's conflicts, locks or
// events, the agents); a subscriber fetches the resource again. Notices
// are coalesced per subscriber into a set of at most one per kind and
// session, so the hub never waits for a subscriber and a slow one costs a
// small, bounded amount of memory, however much happens.

// notifier fans notices out to subscribers.
type notifier struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

// subscriber is one Subscribe: the notices it has not taken yet, and a
// channel with room for one signal that there are some.
type subscriber struct {
	ready   chan struct{}
	pending map[api.Notice]struct{}
}

// Subscribe registers for the hub's change notices. ready receives a value
// whenever notices are waiting; take returns and forgets them; cancel ends
// the subscription. A subscriber reads at its own pace: notices of the same
// kind and session that arrive meanwhile are merged into one.
func (h *Hub) Subscribe() (ready <-chan struct{}, take func() []api.Notice, cancel func()) {
	n := &h.notices
	s := &subscriber{ready: make(chan struct{}, 1), pending: map[api.Notice]struct{}{}}
	n.mu.Lock()
	if n.subs == nil {
		n.subs = map[*subscriber]struct{}{}
	}
	n.subs[s] = struct{}{}
	n.mu.Unlock()
	take = func() []api.Notice {
		n.mu.Lock()
		defer n.mu.Unlock()
		out := make([]api.Notice, 0, len(s.pending))
		for k := range s.pending {
			out = append(out, k)
		}
		clear(s.pending)
		return out
	}
	cancel = func() {
		n.mu.Lock()
		delete(n.subs, s)
		n.mu.Unlock()
	}
	return s.ready, take, cancel
}

// notify tells every subscriber that kind changed in session. It never
// blocks, and may be called with any of the hub's locks held.
func (h *Hub) notify(kind, session string) {
	n := &h.notices
	k := api.Notice{Kind: kind, Session: session}
	n.mu.Lock()
	defer n.mu.Unlock()
	for s := range n.subs {
		s.pending[k] = struct{}{}
		select {
		case s.ready <- struct{}{}:
		default:
		}
	}
}

// notifyHost tells subscribers that the sessions host takes part in
// changed, as its connection did.
func (h *Hub) notifyHost(host string) {
	all, err := h.db.Sessions()
	if err != nil {
		return
	}
	for _, s := range all {
		for _, hr := range s.Hosts {
			if hr.Host == host {
				h.notify(api.NoticeSessions, s.Name)
				break
			}
		}
	}
}

// setLockView publishes a copy of the live loop's lock table, and tells the
// live feed when it differs from the last one (the lock count is part of
// the session's status too).
func (r *run) setLockView(view []api.Lock) {
	r.mu.Lock()
	changed := !slices.EqualFunc(r.lockView, view, sameLock)
	r.lockView = view
	r.mu.Unlock()
	if changed {
		r.h.notify(api.NoticeLocks, r.cfg.Name)
		r.h.notify(api.NoticeSessions, r.cfg.Name)
	}
}

func sameLock(a, b api.Lock) bool {
	return a.Path == b.Path && a.Source == b.Source && a.User == b.User && a.Since.Equal(b.Since) &&
		slices.Equal(a.Targets, b.Targets) && slices.Equal(a.Writers, b.Writers)
}
