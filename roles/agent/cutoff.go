package agent

import (
	"context"
	"time"

	"github.com/peerlink/peerlink/web/api"
)

// A partition is not a crash (issue 14, item 3). An agent cut off from the
// hub (its link down, the hub or broker unreachable) keeps running and
// reconnecting; meanwhile the copies it locked for writers elsewhere stay
// locked for the session's grace period, as the hub keeps them for a
// writer whose host went away, and are released after it: nobody may be
// locked out of a file for longer because a link is down. The hub, back,
// attaches the agent again, which settles its locks in any case, and
// locks anew the files still open for writing.

// noteGrace remembers a session's grace period from its attachment.
func (a *Agent) noteGrace(session string, ms *int64) {
	g := api.DefaultLockGrace
	if ms != nil {
		g = time.Duration(*ms) * time.Millisecond
	}
	a.mu.Lock()
	a.graces[session] = g
	a.mu.Unlock()
}

// graceOf returns a session's grace period, as its last attachment said,
// or the default for one not attached since the agent started.
func (a *Agent) graceOf(session string) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if g, ok := a.graces[session]; ok {
		return g
	}
	return api.DefaultLockGrace
}

// cutOff starts the release of the journaled locks of every session once
// its grace period passes from now without the hub; the returned stop,
// called when the agent is connected again (or stops), ends it and waits
// for it.
func (a *Agent) cutOff(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	since := time.Now()
	go func() {
		defer close(done)
		a.releaseAfterGrace(ctx, since)
	}()
	return func() { cancel(); <-done }
}

// releaseAfterGrace undoes each session's journaled locks when its grace
// period, counted from since, is over, until ctx ends.
func (a *Agent) releaseAfterGrace(ctx context.Context, since time.Time) {
	released := map[string]bool{}
	for {
		recs, err := a.db.Locks("")
		if err != nil {
			a.log.Error().Err(err).Msg("read the lock journal: locks are kept until the hub is back")
			return
		}
		var next time.Time
		for _, r := range recs {
			if released[r.Session] {
				continue
			}
			at := since.Add(a.graceOf(r.Session))
			if time.Now().Before(at) {
				if next.IsZero() || at.Before(next) {
					next = at
				}
				continue
			}
			released[r.Session] = true
			n, err := a.undoLocks(r.Session, "", nil)
			if n > 0 {
				a.log.Warn().Str("session", r.Session).Int("locks", n).Dur("grace", a.graceOf(r.Session)).
					Msg("cut off from the hub for the grace period: released the copies locked for writers elsewhere; the hub locks them again when it is back")
			}
			if err != nil {
				a.log.Error().Err(err).Str("session", r.Session).Msg("release locks after the grace period")
			}
		}
		if next.IsZero() {
			return
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}
