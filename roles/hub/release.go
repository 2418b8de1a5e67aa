package hub

import (
	"fmt"
	"slices"
	"time"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/web/api"
)

// Releasing a lock by hand (helpdesk): a file stays locked on the other
// hosts while its writer's host holds it open, or, after that host went
// away, for the session's grace period. Someone who knows the writer is
// gone for good releases it: the lock leaves the table and every target
// undoes its lock as on a normal release (the copies get back their
// recorded permission bits and flags). A writer that closes the file later
// is a plain change then, propagated as any other.

// releaseWait bounds the wait for the lock table's owner to take an order.
const releaseWait = 10 * time.Second

// releaseOrder asks the owner of a run's lock table to release path.
type releaseOrder struct {
	path, by string
	reply    chan releaseReply
}

type releaseReply struct {
	rel api.Released
	err error
}

// ReleaseLock releases one lock of a running session by hand.
func (h *Hub) ReleaseLock(name, path, by string) (api.Released, error) {
	if _, err := h.config(name); err != nil {
		return api.Released{}, err
	}
	r := h.run(name)
	if r == nil {
		return api.Released{}, fmt.Errorf("%w: session %s is not running, so it holds no lock (a host undoes its locks when it attaches)", ErrNotFound, name)
	}
	o := releaseOrder{path: path, by: by, reply: make(chan releaseReply, 1)}
	// The lock table's owner takes orders while the session runs live or
	// waits for a host; a start-up in progress takes none.
	wait := time.NewTimer(releaseWait)
	defer wait.Stop()
	select {
	case r.releaseIn <- o:
	case <-wait.C:
		return api.Released{}, fmt.Errorf("%w: session %s is starting up (phase %s): try again once it runs (peerlink session status %s)", ErrBusy, name, r.phase(), name)
	case <-r.ctx().Done():
		return api.Released{}, fmt.Errorf("%w: session %s is stopping: its locks are released as it stops", ErrBusy, name)
	}
	// The owner answers once the targets were told (each within
	// lockTimeout), or the run ends.
	select {
	case rep := <-o.reply:
		return rep.rel, rep.err
	case <-r.ctx().Done():
		return api.Released{}, fmt.Errorf("%w: session %s stopped meanwhile: its locks are released as it stops", ErrBusy, name)
	}
}

// releaseByHand serves a releaseOrder; the caller owns the lock table.
func (r *run) releaseByHand(o releaseOrder) {
	l := r.locks[o.path]
	if l == nil {
		o.reply <- releaseReply{err: fmt.Errorf("%w: %s holds no lock in session %s (see peerlink locks %s)", ErrNotFound, o.path, r.cfg.Name, r.cfg.Name)}
		return
	}
	rel := api.Released{Path: l.path, Source: l.source, Targets: slices.Sorted(slices.Values(l.targets))}
	if rel.Targets == nil {
		rel.Targets = []string{}
	}
	r.releaseLocks(r.h.client(), []*heldLock{l}, func(l *heldLock) string {
		return fmt.Sprintf("released by hand by %s: held for %s (%s) on %s", o.by, l.source, l.user, targetList(l.targets))
	})
	r.events.add(store.Event{Kind: "release-by-hand", Host: l.source, Path: l.path, User: o.by,
		Msg: fmt.Sprintf("lock of %s released by hand; copies restored on %s", l.path, targetList(l.targets))})
	r.events.flush()
	o.reply <- releaseReply{rel: rel}
}

func targetList(targets []string) string {
	if len(targets) == 0 {
		return "no other host"
	}
	s := slices.Sorted(slices.Values(targets))
	out := s[0]
	for _, t := range s[1:] {
		out += ", " + t
	}
	return out
}
