package hub

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/peerlink/peerlink/web/api"
)

// The lock grace period (issue 5, "if a source host disconnects while it
// holds a lock"). A lost host ends the running attempt, and with it the
// live loop; the lock table passes to the supervisor, which keeps every
// lock's targets locked for the session's LockGrace while it waits for the
// host, then releases them. Locks whose source is still connected (a
// target went away) are held the same way: their writer is still at work,
// and releasing the copies on the other targets would let a user there
// start a second version that the start-up could only settle by letting
// one of them win. Each host undoes its target locks when the next
// attempt attaches it (the hub then forgets the held ones), and the
// start-up ends with the live loop locking again every file still open for
// writing, which the hosts' agents report as they attach. So no lock
// outlives the grace period or the return of every host, whichever comes
// first, nor a stop of the session: a host away when the grace period
// ends or the session stops undoes its locks when it is back (running.go).

// grace returns the session's lock grace period.
func (r *run) grace() time.Duration {
	if r.cfg.LockGrace == nil {
		return api.DefaultLockGrace
	}
	return time.Duration(*r.cfg.LockGrace)
}

// holdLocks starts the grace period of every lock left by the live loop
// of an interrupted attempt; with no grace period, they are released now.
func (r *run) holdLocks() {
	if len(r.locks) == 0 {
		return
	}
	grace := r.grace()
	if grace <= 0 {
		r.releaseLocks(r.h.client(), r.allLocks(), r.releaseReason)
		return
	}
	until := time.Now().Add(grace)
	for _, l := range r.locks {
		if l.until.IsZero() {
			l.until = until
			r.log.Info().Str("path", l.path).Str("source", l.source).Time("until", until).Msg("lock held for the grace period")
		}
	}
	r.publishLocks()
}

// releaseReason says, for the event log, why an interrupted session's lock
// was released.
func (r *run) releaseReason(l *heldLock) string {
	grace := r.grace()
	over := fmt.Sprintf("grace period %s over", grace)
	if grace <= 0 {
		over = "no grace period"
	}
	if !r.h.connected(l.source) {
		return fmt.Sprintf("source %s disconnected; %s", l.source, over)
	}
	return fmt.Sprintf("session interrupted by a lost host while %s wrote it; %s", l.source, over)
}

// expireHeld releases the held locks whose grace period is over by now.
func (r *run) expireHeld(now time.Time) {
	var due []*heldLock
	for _, l := range r.locks {
		if !l.until.IsZero() && !now.Before(l.until) {
			due = append(due, l)
		}
	}
	r.releaseLocks(r.h.client(), due, r.releaseReason)
}

// nextExpiry returns when the next held lock's grace period ends.
func (r *run) nextExpiry() (time.Time, bool) {
	var at time.Time
	for _, l := range r.locks {
		if !l.until.IsZero() && (at.IsZero() || l.until.Before(at)) {
			at = l.until
		}
	}
	return at, !at.IsZero()
}

// dropHeld forgets the held locks once every host was attached again: each
// undid its target locks as it attached.
func (r *run) dropHeld() {
	if len(r.locks) == 0 {
		return
	}
	r.releaseLocks(nil, r.allLocks(), func(l *heldLock) string {
		return fmt.Sprintf("%s is back within the grace period: released for the start-up, which locks the file again if it is still open for writing", l.source)
	})
}

// allLocks returns every lock of the table.
func (r *run) allLocks() []*heldLock {
	out := make([]*heldLock, 0, len(r.locks))
	for _, l := range r.locks {
		out = append(out, l)
	}
	return out
}

// waitBack waits until every host is connected again, releasing held
// locks as their grace periods end, and says in the status whom it waits
// for. It returns ctx's error if the run is stopped meanwhile.
func (r *run) waitBack(ctx context.Context, cause error) error {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		missing, changed := r.h.missing(r.hostNames())
		if len(missing) == 0 {
			return nil
		}
		reason := fmt.Sprintf("%v; waiting for %s to reconnect", cause, strings.Join(missing, ", "))
		at, held := r.nextExpiry()
		if held {
			reason += fmt.Sprintf("; %d file(s) stay locked on the other hosts until %s", len(r.locks), at.Local().Format(time.TimeOnly))
		}
		r.update(func(st *api.SessionStatus) { st.Reason = reason })
		if held {
			r.publishLocks() // whose source is connected may have changed
		}
		var due <-chan time.Time
		if held {
			timer.Reset(time.Until(at))
			due = timer.C
		}
		select {
		case <-changed:
		case <-due:
			r.expireHeld(time.Now())
		case o := <-r.releaseIn:
			r.releaseByHand(o)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
