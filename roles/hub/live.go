package hub

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// The seed's Steps 2 and 3 on the hub: a running session's file locks and
// the propagation of what users do. One goroutine per running session, the
// live loop, handles every message of that session in arrival order, so the
// lock table and the index change in one order only.

const (
	// liveQueue bounds the messages waiting for a session's live loop. The
	// broker's back-pressure holds senders beyond it.
	liveQueue = 4096
	// lockTimeout bounds a target's answer to a Lock or Unlock.
	lockTimeout = 10 * time.Second
	// changeBatch is how many changes one round of the loop gathers, so a
	// burst (a git checkout, an unzip) goes to each target in few Applies.
	changeBatch = 2 * wire.MaxBatch
)

// liveLoop serves the session's live messages until ctx ends. The lock
// table it leaves is the supervisor's: released, or held for the grace
// period if a host went away (see supervise).
func (r *run) liveLoop(ctx context.Context, c *broker.Client) {
	r.lags = map[string]map[string]*lag{}
	r.recent = recentApplied{}
	// A start-up's ops are planned from scans, not from reports: they
	// carry no Seen.
	r.seen.reset()
	defer r.seen.reset()
	r.pendingReconcile = nil // the start-up that just ran reconciled everything
	r.lagStartFailures()
	// Hosts away and their catch-ups (away.go, catchup.go): the catch-ups'
	// goroutines end with ctx, and the loop waits for them.
	r.away = map[string]*awayHost{}
	var wg sync.WaitGroup
	defer wg.Wait()
	lc := &liveCtx{ctx: ctx, c: c, wg: &wg}
	r.settleHosts(lc)
	t := newLiveTimers()
	defer t.stop()
	var next *broker.Incoming // taken from the queue too early, served first
	for {
		t.arm(r)
		var in broker.Incoming
		if next != nil {
			in, next = *next, nil
		} else {
			select {
			case in = <-r.liveIn:
			case <-t.repairs.C:
				r.repair(ctx, c)
				r.publishLocks()
				continue
			case <-t.grace.C:
				r.expireHeld(time.Now())
				continue
			case <-t.retry.C:
				r.settleHosts(lc)
				r.publishLocks()
				continue
			case <-r.hostKick:
				r.settleHosts(lc)
				r.publishLocks()
				continue
			case o := <-r.deletionsIn:
				r.decideHeld(lc, o)
				r.publishLocks()
				continue
			case o := <-r.releaseIn:
				r.releaseByHand(o)
				continue
			case res := <-r.catchIn:
				r.caughtUpStep(lc, res)
				r.publishLocks()
				continue
			case <-ctx.Done():
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		next = r.serve(ctx, c, in)
	}
}

// serve handles one live message of a session's host, and returns the
// message it took from the queue too early, if any, to be served next.
func (r *run) serve(ctx context.Context, c *broker.Client, in broker.Incoming) (next *broker.Incoming) {
	if r.holdBack(ctx, c, in) {
		return nil
	}
	// Hub.live let only the session's hosts in.
	switch m := in.Msg.(type) {
	case *wire.Opened:
		r.opened(ctx, c, in, m)
	case *wire.Closed:
		r.closedBy(ctx, c, in, m)
	case *wire.Changes:
		if r.scannedBefore(in.From, m) {
			break
		}
		var batch []wire.Change
		batch, next = r.gather(in, m)
		r.changes(ctx, c, in.From, r.breakLive(in.From, batch))
	}
	r.inline.reset()
	r.publishLocks()
	return next
}

// closedBy handles a host's Closed, which in brought with the file's
// content if it is small: numbered as handled, then released or carried.
func (r *run) closedBy(ctx context.Context, c *broker.Client, in broker.Incoming, m *wire.Closed) {
	r.seen.sawClosed(in.From, m)
	r.inline.addClosed(in.From, m, in.Data)
	r.closed(ctx, c, in.From, m)
}

// liveTimers wake the live loop for what is due without a message: the
// next repair of a lag, the end of a held lock's grace period, the retry
// of a failed catch-up (catchup_retry.go).
type liveTimers struct {
	repairs, grace, retry *time.Timer
}

func newLiveTimers() *liveTimers {
	return &liveTimers{repairs: time.NewTimer(time.Hour), grace: time.NewTimer(time.Hour), retry: time.NewTimer(time.Hour)}
}

func (t *liveTimers) stop() {
	t.repairs.Stop()
	t.grace.Stop()
	t.retry.Stop()
}

// arm sets each timer to when r next has that work, or stops it.
func (t *liveTimers) arm(r *run) {
	due(t.repairs, r.nextRepair)
	due(t.grace, r.nextExpiry)
	due(t.retry, r.nextRetry)
}

func due(t *time.Timer, next func() (time.Time, bool)) {
	if at, ok := next(); ok {
		t.Reset(time.Until(at))
	} else {
		t.Stop()
	}
}

// gather returns m's changes, which in brought, with what else its host
// reported meanwhile, in order, so that a burst goes to each target in few
// Applies, and the message it took from the queue too early, if any. The
// content that came with them goes to r.inline.
func (r *run) gather(in broker.Incoming, m *wire.Changes) ([]wire.Change, *broker.Incoming) {
	host := in.From
	batch := slices.Clone(m.Changes)
	r.seen.saw(host, m)
	r.inline.add(host, m.Changes, in.Data)
	for len(batch) < changeBatch {
		select {
		case more := <-r.liveIn:
			if mm, ok := more.Msg.(*wire.Changes); ok && more.From == host && r.away[host] == nil {
				batch = append(batch, mm.Changes...)
				r.seen.saw(host, mm)
				r.inline.add(host, mm.Changes, more.Data)
				continue
			}
			return batch, &more
		default:
			return batch, nil
		}
	}
	return batch, nil
}

func (r *run) isHost(host string) bool {
	_, ok := r.host[host]
	return ok
}

func (r *run) refuse(ctx context.Context, c *broker.Client, in broker.Incoming, e *wire.Error) {
	if in.ID == 0 {
		return
	}
	e.Op = string(in.Type)
	if err := c.Reply(ctx, in, &wire.Fail{Error: *e}, nil); err != nil {
		r.log.Debug().Err(err).Msg("live reply")
	}
}

// otherHosts returns the hosts that take part besides host: not those
// away (away.go).
func (r *run) otherHosts(host string) []string {
	var out []string
	for _, hr := range r.cfg.Hosts {
		if hr.Host != host && r.away[hr.Host] == nil {
			out = append(out, hr.Host)
		}
	}
	return out
}

func (r *run) event(kind, host, path, msg string) {
	r.events.add(store.Event{Kind: kind, Host: host, Path: path, Msg: msg})
}

func (r *run) quarantined(path string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return conflict.UnderAny(path, r.quarantine)
}

func (r *run) quarantineLive(path string, reason conflict.Reason, detail string, copies []conflict.Copy) {
	q := store.Quarantine{Quarantine: conflict.Quarantine{Path: path, Reason: reason, Detail: detail, Copies: copies}}
	if err := r.h.db.PutQuarantines(r.cfg.Name, []store.Quarantine{q}); err != nil {
		r.log.Error().Err(err).Msg("quarantine")
		return
	}
	r.mu.Lock()
	if !r.quarantine[path] {
		r.quarantine[path] = true
		r.st.Quarantined++
	}
	r.mu.Unlock()
	r.h.notify(api.NoticeConflicts, r.cfg.Name)
	r.event("conflict", "", path, detail)
	r.log.Warn().Str("path", path).Str("reason", string(reason)).Str("detail", detail).Msg("quarantined")
}

// moveQuarantines carries the conflicts listed at and below from to to, as
// a rename moves their records in the index (moveLags): left at the old
// path, a conflict names a path nobody holds any more, while the copies it
// listed, moved with their folder, are out of the File Conflict List and
// apart for good (make chaos, seed 71049: a file quarantined in a folder
// renamed elsewhere stayed listed at its old path, and its copies at the
// new one were never settled).
func (r *run) moveQuarantines(from, to string) {
	r.mu.Lock()
	var moved []string
	for p := range r.quarantine {
		if _, ok := wire.Moved(p, from, to); ok {
			moved = append(moved, p)
		}
	}
	r.mu.Unlock()
	if len(moved) == 0 {
		return
	}
	if _, err := r.h.db.MoveQuarantines(r.cfg.Name, from, to); err != nil {
		r.log.Error().Err(err).Msg("quarantine")
		return
	}
	r.update(func(st *api.SessionStatus) {
		for _, p := range moved {
			delete(r.quarantine, p)
		}
		for _, p := range moved {
			np, _ := wire.Moved(p, from, to)
			if r.quarantine[np] {
				st.Quarantined-- // replaced by the one that moved there
			}
			r.quarantine[np] = true
		}
	})
	r.h.notify(api.NoticeConflicts, r.cfg.Name)
	r.log.Info().Str("from", from).Str("to", to).Strs("paths", moved).Msg("conflicts moved with their folder")
}
