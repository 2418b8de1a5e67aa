package hub

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/wire"
)

// A live op that fails on a target leaves that target behind: it keeps the
// copy it had while the index moves on without it. Nothing else would ever
// bring it up to date (the next change's op would find a copy it does not
// expect and fail too), so the hub remembers what each lagging target
// holds, builds the next ops to it from that, and repairs it: it looks at
// the target's copy and at a copy the index names, and sends the index's
// version again, until the target holds it; or, when the target's copy is
// neither what the hub left there nor the index's, a user changed it
// meanwhile and the path goes to the File Conflict List. So a failed op
// never leaves the hosts apart for good, and a target's failure (a fetch
// that met the source saving again, a full disk) is never taken for a
// second writer.

// lag is one target's copy of one path that a live op failed to bring up
// to date.
type lag struct {
	have  *wire.Entry // the target's copy as the hub last knew it; nil: none
	tries int         // repairs that failed so far
	due   time.Time   // the next repair
	// failed is the kind of the last failure, which the session's errors
	// show once however often a repair meets it again.
	failed wire.ErrKind
	// seen is the Seen of the failed op: the target's reports the hub had
	// handled when it planned it. A repair that removes a folder carries
	// it, so that the target keeps what its user made in the folder since
	// (roles/agent/moved.go, madeIn): content the hub has taken in since
	// and sent to the other hosts (make chaos, seed 30256: a file written
	// in a folder another host removed, whose removal the writer's host
	// refused while the file was open, was deleted there by the repair
	// after its close, and its only copies left were elsewhere).
	seen    uint64
	seenSet bool
}

// reconcileError ends a running attempt so that the start-up runs again:
// every host is scanned and the engine decides on the whole tree, as at a
// session start. It is the repair of a failed folder rename, whose
// consequences (two folders merged, the old one left on some hosts) a
// per-path repair cannot settle.
type reconcileError struct {
	path, host, why string
}

func (e *reconcileError) Error() string {
	return fmt.Sprintf("%s on %s: %s; every host is scanned and merged again, as at a session start", e.path, e.host, e.why)
}

// reconcileEvery bounds how often a run starts over to reconcile.
const reconcileEvery = time.Minute

// repairScanTimeout bounds the look at the copies of one path.
const repairScanTimeout = 10 * time.Second

// repairsPerRound bounds the paths one repair round looks at, so that live
// messages queued meanwhile wait for a few scans at most.
const repairsPerRound = 64

// lagging returns host's lag on path, or nil.
func (r *run) lagging(path, host string) *lag {
	return r.lags[path][host]
}

// fallBehind records that op failed on host: host keeps what op expected
// to find there. A repair is due at once: most failures are over by then
// (the source saved again, and its new version is what is sent). A failed
// rename starts the session over instead (see reconcileError).
func (r *run) fallBehind(host string, op wire.Op, err wire.Error) {
	if op.Kind == wire.OpRename {
		if err.Kind == wire.KindUnreachable {
			// The host is leaving: it goes away holding the old tree.
			if r.away[host] == nil {
				r.noteLostRename(host, op)
			}
		} else {
			r.reconcile(&reconcileError{path: op.Path, host: host, why: fmt.Sprintf("rename %s to %s failed (%s)", op.OldPath, op.Path, err.Msg)})
		}
		return
	}
	if r.lags[op.Path] == nil {
		r.lags[op.Path] = map[string]*lag{}
	}
	l := r.lags[op.Path][host]
	if l == nil {
		l = &lag{}
		r.lags[op.Path][host] = l
	}
	if !l.seenSet {
		l.seen, l.seenSet = r.seen.get(host), true
	}
	l.have = op.Have
	l.due = time.Now()
	if err.Kind == wire.KindNoSpace {
		// Room is not made in a moment: the repair backs off at once.
		l.tries++
		l.due = l.due.Add(broker.Backoff(l.tries))
	}
	l.failed = err.Kind
}

// reconcile ends the running attempt with e, at most once per
// reconcileEvery: a later one waits for its turn (see repair).
func (r *run) reconcile(e *reconcileError) {
	r.addError(wire.Error{Kind: wire.KindConflict, Op: "rename", Host: e.host, Path: e.path, Msg: e.Error()})
	if r.pendingReconcile == nil {
		r.pendingReconcile = e
	}
	r.reconcileIfDue(time.Now())
}

// reconcileIfDue starts the run over if a reconcile waits and its turn
// has come.
func (r *run) reconcileIfDue(now time.Time) {
	e := r.pendingReconcile
	if e == nil || now.Sub(r.reconciled) < reconcileEvery {
		return
	}
	r.pendingReconcile = nil
	r.reconciled = now
	r.mu.Lock()
	abort := r.abort
	r.mu.Unlock()
	if abort != nil {
		abort(e)
	}
}

// caughtUp forgets host's lag on path: an op brought it up to date.
func (r *run) caughtUp(path, host string) {
	if m := r.lags[path]; m != nil {
		delete(m, host)
		if len(m) == 0 {
			delete(r.lags, path)
		}
	}
}

// moveLags re-keys the lags at from and below it to to, as a rename moves
// their records in the index: a host that lagged on a file of a folder
// renamed elsewhere lags on it at its new path, where the repair looks
// for the index's record (make chaos, seed 5533: the lags stayed at the
// old paths, whose records had moved, and the renamed file was never
// repaired).
func (r *run) moveLags(from, to string) {
	moved := map[string]map[string]*lag{}
	for p, m := range r.lags {
		if np, ok := wire.Moved(p, from, to); ok {
			moved[np] = m
			delete(r.lags, p)
		}
	}
	for np, m := range moved {
		if r.lags[np] == nil {
			r.lags[np] = map[string]*lag{}
		}
		for h, l := range m {
			if l.have != nil {
				have := *l.have
				have.Path = np
				l.have = &have
			}
			r.lags[np][h] = l
		}
	}
}

// nextRepair returns when the earliest repair is due, and false if none is
// waiting.
func (r *run) nextRepair() (time.Time, bool) {
	var next time.Time
	if r.pendingReconcile != nil {
		next = r.reconciled.Add(reconcileEvery)
	}
	for _, m := range r.lags {
		for _, l := range m {
			if next.IsZero() || l.due.Before(next) {
				next = l.due
			}
		}
	}
	return next, !next.IsZero()
}

// repair works through the lags that are due.
func (r *run) repair(ctx context.Context, c *broker.Client) {
	now := time.Now()
	r.reconcileIfDue(now)
	var due []string
	for p, m := range r.lags {
		for _, l := range m {
			if !l.due.After(now) {
				due = append(due, p)
				break
			}
		}
	}
	sort.Strings(due)
	if len(due) > repairsPerRound {
		due = due[:repairsPerRound]
	}
	for _, p := range due {
		if ctx.Err() != nil {
			return
		}
		r.repairPath(ctx, c, p)
	}
}

// repairPath brings every lagging host's copy of p to the index's version.
func (r *run) repairPath(ctx context.Context, c *broker.Client, p string) {
	if r.quarantined(p) {
		delete(r.lags, p) // an operator decides now
		return
	}
	if r.locks[p] != nil {
		// A writer holds it: its close sends the new version, built
		// from what the lagging hosts hold.
		r.log.Debug().Str("path", p).Str("writer", r.locks[p].source).Msg("repair waits for the writer's close")
		r.postpone(p, false)
		return
	}
	rec, had, err := r.h.db.Index(r.cfg.Name, p)
	if err != nil {
		r.log.Error().Err(err).Msg("index")
		r.postpone(p, true)
		return
	}
	if had && r.onlyLaggingHold(p, rec) {
		// The record is what a removal left on the hosts where it failed:
		// the index's version is the removal, which those hosts lag on
		// (make chaos, seed 5093: a user wrote the file anew as another
		// host's removal reached it, and the repair waited for ever for
		// a host holding the old version).
		r.log.Debug().Str("path", p).Strs("holders", rec.Hosts).Msg("repair: the index's record is what a removal left where it failed")
		had = false
	}
	ref := ""
	if had {
		ref = r.reference(rec)
		if ref == "" {
			r.log.Debug().Str("path", p).Strs("holders", rec.Hosts).Msg("repair waits for a host holding the index's version")
			r.postpone(p, true) // no host holding the index's version is here
			return
		}
	}
	// Bounded: the live loop waits for the repair, and a host that does
	// not answer must not stop the others' changes for long.
	sctx, cancel := context.WithTimeout(ctx, repairScanTimeout)
	copies, err := r.lagCopies(sctx, c, p, ref)
	cancel()
	if err != nil {
		r.log.Debug().Err(err).Str("path", p).Msg("repair scan")
		r.postpone(p, true)
		return
	}
	if had && !conflict.SameVersion(copies[ref], &rec.Entry) {
		// The reference changed since: its own report brings the new
		// version, and the repair follows it (backing off, should the
		// report never come).
		r.postpone(p, true)
		return
	}
	for host, l := range r.lags[p] {
		if !r.h.connected(host) {
			continue
		}
		r.repairHost(ctx, c, p, host, l, rec, had, ref, copies[host])
		if r.lags[p] == nil {
			return // quarantined, or every host caught up
		}
	}
}

// repairHost settles one lagging host's copy cur of p against the index's
// record (rec, if had), which ref holds.
func (r *run) repairHost(ctx context.Context, c *broker.Client, p, host string, l *lag, rec conflict.Record, had bool, ref string, cur *wire.Entry) {
	d := conflict.Repair(p, host, ref, cur, l.have, rec, had)
	if e := r.log.Debug(); e.Enabled() {
		e.Str("path", p).Str("host", host).Str("ref", ref).Bool("had", had).Strs("holders", rec.Hosts).
			Bool("present", cur != nil).Stringer("decision", d.Kind).Str("op", opName(d)).Uint64("seen", l.seen).Bool("seen_set", l.seenSet).Msg("repair")
	}
	switch d.Kind {
	case conflict.RepairCaughtUp:
		r.joined(p, host, rec, had)
		return
	case conflict.RepairConflict:
		delete(r.lags, p)
		r.quarantineLive(p, d.Reason, d.Why, d.Copies)
		return
	}
	op := d.Op
	var failed *wire.Error
	seen := r.seen.get(host)
	if op.Kind == wire.OpDelete && l.seenSet {
		seen = l.seen
	}
	err := r.applyOpsSeen(ctx, c, host, []wire.Op{op}, nil, seen, func(results []wire.OpResult) error {
		for _, res := range results {
			if res.Error != nil {
				failed = res.Error
			}
		}
		return nil
	})
	if err == nil && failed == nil {
		if had {
			r.recent.remember(host, rec.Entry, time.Now())
		}
		r.joined(p, host, rec, had)
		r.event("transfer", ref, p, fmt.Sprintf("repaired on %s after %d failed attempt(s)", host, l.tries+1))
		return
	}
	if failed == nil {
		failed = wire.ToError("apply", host, p, err)
	}
	l.have = cur
	l.tries++
	l.due = time.Now().Add(broker.Backoff(l.tries))
	if failed.Kind != wire.KindChanged && failed.Kind != l.failed {
		r.addError(*failed)
	}
	l.failed = failed.Kind
}

// joined records that host now holds the index's state of p: rec, if
// had, or else no copy at all.
func (r *run) joined(p, host string, rec conflict.Record, had bool) {
	r.caughtUp(p, host)
	if !had {
		r.removed(p, host)
		return
	}
	if slices.Contains(rec.Hosts, host) {
		return
	}
	rec.Hosts = append(slices.Clone(rec.Hosts), host)
	if err := r.h.db.PutIndex(r.cfg.Name, []conflict.Record{rec}); err != nil {
		r.log.Error().Err(err).Msg("index")
	}
}

// opName names d's op, "" if it has none, for the debug log.
func opName(d conflict.RepairDecision) string {
	if d.Kind != conflict.RepairApply {
		return ""
	}
	return d.Op.Kind.String()
}

// removed takes host off p's record, if the index keeps one that lists
// it: what a removal left on the hosts where it failed (see repairPath),
// which host no longer holds; and off the records below p, whose copies
// went with it. A record left with no host is dropped, as the removal's
// would have been, had it succeeded everywhere. A record that kept
// listing host would have the next merge take host for holding p (make
// chaos, seed 4389: a folder whose removal two hosts refused stayed
// listed on one of them after the repair removed it there, and the
// catch-up of the other, which kept the folder, sent it to every host
// but that one).
func (r *run) removed(p, host string) {
	rec, had, err := r.h.db.Index(r.cfg.Name, p)
	if err != nil {
		r.log.Error().Err(err).Msg("index")
		return
	}
	if !had || !slices.Contains(rec.Hosts, host) {
		return
	}
	recs := []conflict.Record{rec}
	err = r.h.db.ForEachIndex(r.cfg.Name, p+"/", func(rec conflict.Record) error {
		if slices.Contains(rec.Hosts, host) {
			recs = append(recs, rec)
		}
		return nil
	})
	if err != nil {
		r.log.Error().Err(err).Msg("index")
		return
	}
	var keep []conflict.Record
	var gone []string
	for _, rec := range recs {
		rec.Hosts = slices.DeleteFunc(slices.Clone(rec.Hosts), func(h string) bool { return h == host })
		if len(rec.Hosts) == 0 {
			gone = append(gone, rec.Entry.Path)
			continue
		}
		keep = append(keep, rec)
	}
	r.log.Debug().Str("path", p).Str("host", host).Int("records", len(recs)).Int("dropped", len(gone)).
		Msg("repair: removal done on a host the index kept it on")
	if err := r.h.db.PutIndex(r.cfg.Name, keep); err != nil {
		r.log.Error().Err(err).Msg("index")
	}
	if err := r.h.db.DeleteIndex(r.cfg.Name, gone); err != nil {
		r.log.Error().Err(err).Msg("index")
	}
}

// postpone puts p's repairs off: by the backoff of their tries if the
// attempt failed or cannot be made, or by a second while a writer holds
// the file.
func (r *run) postpone(p string, failed bool) {
	for _, l := range r.lags[p] {
		if failed {
			l.tries++
			l.due = time.Now().Add(broker.Backoff(l.tries))
		} else {
			l.due = time.Now().Add(time.Second)
		}
	}
}

// onlyLaggingHold says whether every host rec lists lags on p.
func (r *run) onlyLaggingHold(p string, rec conflict.Record) bool {
	for _, h := range rec.Hosts {
		if r.lagging(p, h) == nil {
			return false
		}
	}
	return len(rec.Hosts) > 0
}

// reference returns a connected host that holds rec's version, or "".
func (r *run) reference(rec conflict.Record) string {
	for _, h := range rec.Hosts {
		if r.lagging(rec.Entry.Path, h) == nil && r.h.connected(h) {
			return h
		}
	}
	return ""
}

// lagCopies returns the copy of p (its own entry, nil where absent) on
// every lagging host that is connected, and on ref.
func (r *run) lagCopies(ctx context.Context, c *broker.Client, p, ref string) (map[string]*wire.Entry, error) {
	hosts := []string{}
	if ref != "" {
		hosts = append(hosts, ref)
	}
	for h := range r.lags[p] {
		if r.h.connected(h) && h != ref {
			hosts = append(hosts, h)
		}
	}
	out := make(map[string]*wire.Entry, len(hosts))
	for _, h := range hosts {
		var found *wire.Entry
		err := scanHost(ctx, c, r.cfg.Name, h, p, func(part *wire.ScanPart) error {
			for _, e := range part.Entries {
				if e.Path == p {
					found = &e
				}
			}
			if part.Done {
				for _, w := range part.Warnings {
					if w.Path == p {
						return &w // being written, or unreadable: look again later
					}
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		out[h] = found
	}
	return out, nil
}
