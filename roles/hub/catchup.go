package hub

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// The catch-up of a host that returns to a running session (issue 14),
// beside the live loop, which goes on serving the others. A round is:
// the host is attached (first round only) and rescans its own root; the
// live loop merges that one scan with the index the live hosts kept
// current, through the start-up's engine (conflict.Resolve, by the
// session's rules), the live hosts' copies being what the index lists
// them with and the last synchronised state the host's ledger; then the
// plan's ops are applied, on the host and on the live hosts (what changed
// only on the returning host goes out), while the live loop goes on. What
// the live hosts changed meanwhile is in the ledger again: the next round
// takes it, and after maxCatchUpRounds what is left goes to the lag
// repair (live_lag.go), as for a live op that failed. Then the host goes
// live: its messages held back meanwhile are served, and every file open
// for writing elsewhere is locked on it.

// maxCatchUpRounds bounds the rounds of a catch-up under a steady stream
// of changes elsewhere.
const maxCatchUpRounds = 3

// catchUp is one host's catch-up under way; the live loop owns it.
type catchUp struct {
	cancel  context.CancelFunc
	ctx     context.Context
	round   int
	started time.Time
	// pending are the host's live messages, served once it is live; at
	// most liveQueue changes: beyond, they are dropped and rescan set, so
	// that one more round's scan sees what they said.
	pending []broker.Incoming
	rescan  bool
	// lagAt are paths the merge left alone because a live host writes
	// them or lags on them, with the host's copy: it lags there once live.
	lagAt map[string]*wire.Entry
	// ops and failed count the catch-up's ops, for the event log.
	ops, failed int
	// journal is the number of the host's change journal that the last
	// round's scan read: cleared up to it once the host is live.
	journal uint64
	// record is the identity of the host's root to record once merged
	// (nil: none to record), and fresh says its first round merges it as
	// a new host (rootid.go); set by the attach.
	record *wire.RootIdentity
	fresh  bool
	// seen is, by host, the Seq of its last report the live loop had
	// taken in when the round was merged: the Seen of the round's
	// Applies, which go out later from the catch-up's goroutine.
	seen map[string]uint64
}

// catchResult is what a catch-up's goroutine hands back to the live loop:
// a scan, or the end of a round's ops.
type catchResult struct {
	host    string
	cu      *catchUp
	scan    []wire.Entry
	skipped map[string]bool
	writing []string // the files the host had open for writing
	// A partial scan (catchup_partial.go) covered roots only; journal is
	// the host's change journal's number it read.
	partial  bool
	roots    []string
	journal  uint64
	plan     *conflict.Plan
	failures []opFailure
	err      error
}

// liveCtx is what the live loop lends the work it starts: its context,
// the broker client and the group it waits for before it returns.
type liveCtx struct {
	ctx context.Context
	c   *broker.Client
	wg  *sync.WaitGroup
}

func (r *run) startCatchUp(lc *liveCtx, host string, a *awayHost) {
	ctx, cancel := context.WithCancel(lc.ctx)
	cu := &catchUp{ctx: ctx, cancel: cancel, started: time.Now(), lagAt: map[string]*wire.Entry{}}
	a.catching = cu
	r.releaseSourced(host)
	r.setAwayStatus(host, api.HostCatchingUp, a.since)
	r.event("catch-up", host, "", fmt.Sprintf("%s is back: it rescans its root and catches up with what changed since %s, while the others stay live",
		host, a.since.Local().Format(time.DateTime)))
	r.log.Info().Str("host", host).Msg("catch-up starts")
	r.scanRound(lc, host, cu, true)
}

// stopCatchUp ends a catch-up whose host left again: it is away.
func (r *run) stopCatchUp(a *awayHost, host string) {
	a.catching.cancel()
	a.catching = nil
	r.setAwayStatus(host, api.HostAway, a.since)
	r.event("away", host, "", fmt.Sprintf("%s left again during its catch-up; it resumes when the host returns", host))
	r.kickHosts()
}

// scanRound has host rescan its root (attached first if attach), in a
// goroutine the live loop waits for.
func (r *run) scanRound(lc *liveCtx, host string, cu *catchUp, attach bool) {
	lc.wg.Go(func() {
		res := catchResult{host: host, cu: cu}
		if attach {
			res.err = r.attachOne(cu.ctx, lc.c, host, cu)
		}
		if res.err == nil {
			res.skipped = map[string]bool{}
			res.err = r.catchUpScan(cu.ctx, lc.c, host, cu.fresh, func(part *wire.ScanPart) error {
				res.scan = append(res.scan, part.Entries...)
				res.writing = append(res.writing, part.Open...)
				res.roots = append(res.roots, part.Roots...)
				if part.Done {
					res.partial, res.journal = part.Partial, part.Journal
				}
				for _, w := range part.Warnings {
					if w.Path != "" {
						res.skipped[w.Path] = true
					}
					if unreadable(w) {
						w.Host = host
						r.addError(w)
					}
				}
				return nil
			})
		}
		r.handBack(lc, res)
	})
}

func (r *run) handBack(lc *liveCtx, res catchResult) {
	select {
	case r.catchIn <- res:
	case <-lc.ctx.Done():
	}
}

// attachOne attaches host alone, as the start-up attaches every host,
// judging its root (rootid.go).
func (r *run) attachOne(ctx context.Context, c *broker.Client, host string, cu *catchUp) error {
	for _, hr := range r.cfg.Hosts {
		if hr.Host == host {
			var err error
			cu.record, cu.fresh, err = r.attachHost(ctx, c, host, hr.Root)
			return err
		}
	}
	return fmt.Errorf("%s is not a host of session %s", host, r.cfg.Name)
}

// caughtUpStep is the live loop's part of a catch-up: a scan to merge, or
// a round's end.
func (r *run) caughtUpStep(lc *liveCtx, res catchResult) {
	a := r.away[res.host]
	if a == nil || a.catching != res.cu {
		return // a catch-up that ended meanwhile
	}
	cu := res.cu
	if res.err != nil {
		if cu.ctx.Err() == nil {
			r.catchUpFailed(res.host, a, res.err)
		}
		return
	}
	if res.plan == nil {
		cu.journal = res.journal
		var plan *conflict.Plan
		if res.partial {
			plan = r.mergePartial(res.host, cu, res)
		} else {
			plan = r.mergeCatchUp(res.host, cu, res.scan, res.skipped, res.writing)
		}
		r.applyRound(lc, res.host, cu, plan)
		return
	}
	r.endRound(lc, res.host, a, res.plan, res.failures)
}

func (r *run) setHostError(host string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if hs := r.host[host]; hs != nil {
		hs.Error = err.Error()
	}
}

// endRound settles a round's ops, and starts the next round or takes the
// host live.
func (r *run) endRound(lc *liveCtx, host string, a *awayHost, plan *conflict.Plan, failures []opFailure) {
	cu := a.catching
	undeleted := map[string]bool{}
	for _, f := range failures {
		cu.failed++
		if f.op.Kind == wire.OpDelete {
			undeleted[f.op.Path] = true
		}
		if f.err.Kind == wire.KindOpen {
			rec, had := plan.Index[f.op.Path]
			r.openRefused(f.host, f.op, rec, had, f.err)
			continue
		}
		if f.host == host {
			continue // its ledger keeps the path (see mergeCatchUp)
		}
		// A live host left behind: the lag repair takes it from here.
		r.fallBehind(f.host, f.op, f.err)
		if f.err.Kind != wire.KindChanged && f.err.Kind != wire.KindUnreachable {
			r.addError(f.err)
		}
	}
	if err := r.forgetDeleted(*plan, undeleted); err != nil {
		r.log.Error().Err(err).Msg("index")
	}
	if !r.h.connected(host) {
		// Gone again: its ledger keeps what did not land.
		r.stopCatchUp(a, host)
		return
	}
	left, err := r.h.db.AwayCount(r.cfg.Name, host)
	if err != nil {
		r.log.Error().Err(err).Msg("away count")
	}
	if cu.rescan || left > 0 && cu.round < maxCatchUpRounds {
		cu.rescan = false
		r.log.Info().Str("host", host).Int("paths", left).Int("round", cu.round).Msg("catch-up: changed elsewhere meanwhile; another round")
		r.setAwayStatus(host, api.HostCatchingUp, a.since)
		r.scanRound(lc, host, cu, false)
		return
	}
	r.goLive(lc, host, a)
}

// goLive takes host back into the running session.
func (r *run) goLive(lc *liveCtx, host string, a *awayHost) {
	cu := a.catching
	// What changed elsewhere since the last round, and the paths its merge
	// left alone, are repaired as lags: the repair sends the index's
	// version to the host, or quarantines a copy changed there.
	ledger, err := r.h.db.AwayLedger(r.cfg.Name, host)
	if err != nil {
		r.log.Error().Err(err).Msg("away ledger")
	}
	for p, b := range ledger {
		var have *wire.Entry
		if b.Had && slices.Contains(b.Record.Hosts, host) {
			e := b.Record.Entry
			have = &e
		}
		cu.lagAt[p] = have
	}
	for p, have := range cu.lagAt {
		r.fallBehind(host, wire.Op{Kind: wire.OpFetch, Path: p, Have: have}, wire.Error{Kind: wire.KindChanged, Host: host, Path: p, Msg: "changed elsewhere during the catch-up"})
	}
	if err := r.h.db.ClearAway(r.cfg.Name, host); err != nil {
		r.log.Error().Err(err).Msg("clear away")
	}
	r.clearJournal(lc, host, cu.journal)
	delete(r.away, host)
	cu.cancel()
	r.setAwayStatus(host, "synced", time.Time{})
	held, err := r.countHeld()
	if err == nil {
		r.mu.Lock()
		if hs := r.host[host]; hs != nil {
			hs.Held = held[host]
		}
		r.mu.Unlock()
	}
	took := time.Since(cu.started).Round(time.Millisecond)
	r.log.Info().Str("host", host).Int("ops", cu.ops).Int("failed", cu.failed).Int("rounds", cu.round).Int("lagging", len(cu.lagAt)).Str("took", took.String()).Msg("caught up: live again")
	r.event("caught-up", host, "", fmt.Sprintf("%s caught up in %s (%d op(s) in %d round(s), %d failed, %d path(s) left to the repair) and is live again",
		host, took, cu.ops, cu.round, cu.failed, len(cu.lagAt)))
	// Files open for writing elsewhere are locked on it now that it holds
	// its copy.
	for _, l := range r.locks {
		if l.source != host && !slices.Contains(l.targets, host) {
			l.targets = append(l.targets, host)
			r.relock(lc.ctx, lc.c, l, []string{host})
		}
	}
	// What it reported meanwhile, in order: echoes of the catch-up's own
	// ops are recognised as such against the index.
	for _, in := range cu.pending {
		r.serveLive(lc.ctx, lc.c, in)
	}
	r.publishLocks()
	r.kickHosts()
}

// holdBack keeps a message of a host that is not live from the live loop:
// one catching up has it served once live; one away (connected again,
// but not yet caught up) is refused, its rescan seeing what it said.
func (r *run) holdBack(ctx context.Context, c *broker.Client, in broker.Incoming) bool {
	a := r.away[in.From]
	if a == nil {
		return false
	}
	if a.catching == nil {
		r.refuse(ctx, c, in, &wire.Error{Kind: wire.KindTransient, Msg: fmt.Sprintf("%s is catching up with session %s", in.From, r.cfg.Name)})
		return true
	}
	if _, ok := in.Msg.(*wire.Opened); ok && in.ID != 0 {
		// Answered now, as during a start-up (Hub.live): the agent must
		// not sit on its request. The lock is taken when it goes live.
		if err := c.Reply(ctx, in, &wire.OK{}, nil); err != nil {
			r.log.Debug().Err(err).Msg("live reply")
		}
		in.ID = 0
	}
	cu := a.catching
	if _, ok := in.Msg.(*wire.Changes); ok && len(cu.pending) >= liveQueue {
		cu.rescan = true
		return true
	}
	cu.pending = append(cu.pending, in)
	return true
}

// serveLive serves one live message of a host back from its catch-up.
func (r *run) serveLive(ctx context.Context, c *broker.Client, in broker.Incoming) {
	defer r.inline.reset()
	switch m := in.Msg.(type) {
	case *wire.Opened:
		r.opened(ctx, c, in, m)
	case *wire.Closed:
		r.closedBy(ctx, c, in, m)
	case *wire.Changes:
		r.seen.saw(in.From, m)
		r.inline.add(in.From, m.Changes, in.Data)
		r.changes(ctx, c, in.From, m.Changes)
	}
}

func recordOf(e wire.Entry, hosts []string) conflict.Record {
	return conflict.Record{Entry: e, Hosts: hosts}
}

// noteLostRename keeps, for a host that a live folder rename did not
// reach because it was leaving, what it still holds: the old tree. The
// index has moved it already; the host is marked away now, and the next
// look at the hosts (settleHosts) takes it from there.
func (r *run) noteLostRename(host string, op wire.Op) {
	if err := r.h.db.MarkAway(r.cfg.Name, host, time.Now()); err != nil {
		r.log.Error().Err(err).Msg("mark away")
		return
	}
	bases := map[string]store.AwayBase{}
	err := r.h.db.ForEachIndex(r.cfg.Name, op.Path, func(rec conflict.Record) error {
		p := rec.Entry.Path
		if p != op.Path && (len(p) <= len(op.Path) || p[len(op.Path)] != '/') {
			return nil
		}
		old := op.OldPath + p[len(op.Path):]
		e := rec.Entry
		e.Path = old
		bases[p] = store.AwayBase{}
		bases[old] = store.AwayBase{Had: true, Record: recordOf(e, r.hostNames())}
		return nil
	})
	if err == nil {
		err = r.h.db.PutAway(r.cfg.Name, host, bases)
	}
	if err != nil {
		r.log.Error().Err(err).Msg("away ledger")
	}
	r.kickHosts()
}
