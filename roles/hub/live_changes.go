package hub

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// changes propagates what host's users did to every other host, in order,
// and keeps the index current. It returns the hosts on which some op
// failed; those hosts lag on the op's path until a repair (live_lag.go).
func (r *run) changes(ctx context.Context, c *broker.Client, host string, batch []wire.Change) map[string]bool {
	targets := r.otherHosts(host)
	done, ops := r.decide(host, targets, batch)
	if len(done) == 0 {
		return nil
	}
	ok, failures := r.applyChanges(ctx, c, ops)
	r.indexChanges(host, targets, done, ok)
	failed := r.lagBehind(ok, failures)
	r.recordTransfer(host, targets, sentChanges(done), failed)
	r.relockSaved(ctx, c, host, done, ok)
	return failed
}

// liveChange is a change being propagated, with what the index held for
// it.
type liveChange struct {
	change wire.Change
	prior  conflict.Record // the index before
	had    bool
}

// decide returns the changes of batch that are propagated, in order, and
// the ops that carry them to each target. Changes to the same path in one
// batch follow each other: each one's ops expect what the one before left.
func (r *run) decide(host string, targets []string, batch []wire.Change) ([]liveChange, map[string][]wire.Op) {
	ops := map[string][]wire.Op{}
	var done []liveChange
	inBatch := map[string]*conflict.Record{} // the index as this batch leaves it; nil: removed
	names := r.newNameFolds()
	for _, ch := range supersede(batch) {
		a, ok := r.classify(host, ch, inBatch)
		if !ok || names.clashes(host, a) {
			continue
		}
		names.follow(ch)
		for _, t := range targets {
			if op, ok := changeOp(host, t, a, r.targetHas(a, t)); ok {
				ops[t] = append(ops[t], op)
			}
		}
		done = append(done, a)
		afterChange(inBatch, host, targets, ch)
	}
	return done, ops
}

// supersede drops from batch the writes and metadata changes of a path
// that a later one of the same path in batch replaces, with no remove or
// rename in between: only the last version needs to travel, and sending
// an earlier one first would have the source read a file that no longer
// holds it.
func supersede(batch []wire.Change) []wire.Change {
	later := map[string]bool{}
	keep := make([]bool, len(batch))
	n := 0
	for i := len(batch) - 1; i >= 0; i-- {
		ch := batch[i]
		switch ch.Kind {
		case wire.ChangeWrite, wire.ChangeMeta:
			if later[ch.Path] && ch.Entry.Kind == wire.KindFile {
				continue
			}
			later[ch.Path] = ch.Entry.Kind == wire.KindFile && ch.Kind == wire.ChangeWrite
		case wire.ChangeRemove, wire.ChangeRename:
			clear(later)
		}
		keep[i] = true
		n++
	}
	if n == len(batch) {
		return batch
	}
	out := make([]wire.Change, 0, n)
	for i, ch := range batch {
		if keep[i] {
			out = append(out, ch)
		}
	}
	return out
}

// afterChange records in inBatch the index as ch leaves it, every target
// assumed to apply it.
func afterChange(inBatch map[string]*conflict.Record, host string, targets []string, ch wire.Change) {
	switch ch.Kind {
	case wire.ChangeRemove:
		inBatch[ch.Path] = nil
	default:
		if ch.Kind == wire.ChangeRename {
			inBatch[ch.OldPath] = nil
		}
		inBatch[ch.Path] = &conflict.Record{Entry: ch.Entry, Hosts: append([]string{host}, targets...)}
	}
}

// classify looks ch up in the index (as the batch so far left it) and
// reports whether it is propagated: it is not if its path is quarantined,
// if it is an echo, if another host holds the file (host is then a second
// writer), or if host's own copy lags (its change was made to an old
// version: the repair decides).
func (r *run) classify(host string, ch wire.Change, inBatch map[string]*conflict.Record) (liveChange, bool) {
	if r.quarantined(ch.Path) || (ch.Kind == wire.ChangeRename && r.quarantined(ch.OldPath)) {
		return liveChange{}, false
	}
	key := ch.Path
	if ch.Kind == wire.ChangeRename {
		key = ch.OldPath
	}
	prior, had, err := r.priorOf(key, inBatch)
	if err != nil {
		r.log.Error().Err(err).Msg("index")
		return liveChange{}, false
	}
	if echo(ch, prior, had) {
		return liveChange{}, false
	}
	if ch.Kind != wire.ChangeRemove && ch.Kind != wire.ChangeRename && r.recent.echo(host, ch.Entry, time.Now()) {
		return liveChange{}, false // a version the hub had host apply, reported late
	}
	if l := r.locks[ch.Path]; l != nil && l.source != host {
		// A change to a file another host holds: a second writer.
		l.writers[host] = true
		if ch.Kind == wire.ChangeWrite {
			e := ch.Entry
			l.closed[host] = &e
		}
		return liveChange{}, false
	}
	if l := r.lagging(key, host); l != nil {
		l.due = time.Now()
		return liveChange{}, false
	}
	return liveChange{change: ch, prior: prior, had: had}, true
}

// priorOf returns path's record as the batch so far left it, or as the
// index holds it.
func (r *run) priorOf(path string, inBatch map[string]*conflict.Record) (conflict.Record, bool, error) {
	if rec, ok := inBatch[path]; ok {
		if rec == nil {
			return conflict.Record{}, false, nil
		}
		return *rec, true, nil
	}
	return r.h.db.Index(r.cfg.Name, path)
}

// targetHas returns what target holds of the path a's change replaces: what
// the index lists it with, or, if it lags there, what it kept.
func (r *run) targetHas(a liveChange, target string) *wire.Entry {
	key := a.change.Path
	if a.change.Kind == wire.ChangeRename {
		key = a.change.OldPath
	}
	if l := r.lagging(key, target); l != nil {
		return l.have
	}
	if a.had && slices.Contains(a.prior.Hosts, target) {
		e := a.prior.Entry
		return &e
	}
	return nil
}

// changeOp returns the op that carries a's change from host to target,
// which holds have, if target needs one.
func changeOp(host, target string, a liveChange, have *wire.Entry) (wire.Op, bool) {
	ch := a.change
	var op wire.Op
	switch ch.Kind {
	case wire.ChangeWrite:
		op = wire.Op{Kind: wire.OpFetch, Path: ch.Path, From: host, Want: ch.Entry, Have: have}
	case wire.ChangeMkdir:
		op = wire.Op{Kind: wire.OpMkdir, Path: ch.Path, Want: ch.Entry}
	case wire.ChangeMeta:
		op = wire.Op{Kind: wire.OpMeta, Path: ch.Path, Want: ch.Entry, Have: have}
	case wire.ChangeRemove:
		if have == nil {
			return wire.Op{}, false
		}
		op = wire.Op{Kind: wire.OpDelete, Path: ch.Path, Have: have}
	case wire.ChangeRename:
		if have == nil {
			// Nothing there to move: the moved path arrives whole.
			if ch.Entry.Kind == wire.KindDir {
				op = wire.Op{Kind: wire.OpMkdir, Path: ch.Path, Want: ch.Entry}
			} else {
				op = wire.Op{Kind: wire.OpFetch, Path: ch.Path, From: host, Want: ch.Entry}
			}
			break
		}
		op = wire.Op{Kind: wire.OpRename, Path: ch.Path, OldPath: ch.OldPath, Want: ch.Entry, Have: have}
	}
	return op, true
}

// opFailure is an op that failed on its target.
type opFailure struct {
	host string
	op   wire.Op
	err  wire.Error
	seq  int // the op's place in the host's list: results may come in another order
}

// applyChanges sends every target its ops. It returns, by path, the
// targets on which the path's ops succeeded, and the ops that failed.
func (r *run) applyChanges(ctx context.Context, c *broker.Client, ops map[string][]wire.Op) (ok map[string]map[string]bool, failures []opFailure) {
	var mu sync.Mutex
	ok = map[string]map[string]bool{} // path -> host -> applied
	g, gctx := errgroup.WithContext(ctx)
	for t, list := range ops {
		if !r.h.connected(t) {
			for i, op := range list {
				failures = append(failures, opFailure{t, op, wire.Error{Kind: wire.KindUnreachable, Host: t, Path: op.Path, Msg: "not connected"}, i})
			}
			continue
		}
		g.Go(func() error {
			fs, applied := r.applyTo(gctx, c, t, list)
			mu.Lock()
			defer mu.Unlock()
			failures = append(failures, fs...)
			now := time.Now()
			for _, res := range applied {
				if ok[res.Path] == nil {
					ok[res.Path] = map[string]bool{}
				}
				ok[res.Path][t] = true
				if res.Kind != wire.OpDelete {
					r.recent.remember(t, res.Entry, now)
				}
			}
			return nil
		})
	}
	g.Wait()
	return ok, failures
}

// applyTo applies list on t in batches, and returns the ops that failed
// and the results of those that succeeded. A path that also failed in list
// is not among the latter.
func (r *run) applyTo(ctx context.Context, c *broker.Client, t string, list []wire.Op) ([]opFailure, []wire.OpResult) {
	var failures []opFailure
	var applied []wire.OpResult
	bad := map[string]bool{}
	for done := 0; done < len(list); {
		n := min(len(list)-done, wire.MaxBatch)
		chunk := list[done : done+n]
		// Results may come in another order than the ops: each is matched
		// to the first op of its path not answered yet.
		waiting := map[string][]int{}
		for i, op := range chunk {
			waiting[op.Path] = append(waiting[op.Path], i)
		}
		answer := func(path string) (wire.Op, int) {
			q := waiting[path]
			if len(q) == 0 {
				return wire.Op{Path: path}, done + n
			}
			waiting[path] = q[1:]
			return chunk[q[0]], done + q[0]
		}
		err := r.applyOps(ctx, c, t, chunk, func(results []wire.OpResult) error {
			for _, res := range results {
				op, seq := answer(res.Path)
				if res.Error != nil {
					e := *res.Error
					e.Host = t
					failures = append(failures, opFailure{t, op, e, seq})
					bad[res.Path] = true
					continue
				}
				applied = append(applied, res)
			}
			return nil
		})
		if err != nil {
			// The ops not answered are taken as failed.
			e := *wire.ToError("apply", t, "", err)
			for _, q := range waiting {
				for _, i := range q {
					failures = append(failures, opFailure{t, chunk[i], e, done + i})
					bad[chunk[i].Path] = true
				}
			}
			r.addError(e)
			break
		}
		done += n
	}
	return failures, slices.DeleteFunc(applied, func(res wire.OpResult) bool { return bad[res.Path] })
}

// lagBehind notes the failed ops' hosts as lagging on their paths, and the
// hosts that caught up; it returns the hosts on which some op failed.
func (r *run) lagBehind(ok map[string]map[string]bool, failures []opFailure) map[string]bool {
	for p, hosts := range ok {
		for h := range hosts {
			r.caughtUp(p, h)
		}
	}
	failed := map[string]bool{}
	// The first failure on a path, in the order of the ops, is what the
	// host kept; those after it failed because of it.
	slices.SortStableFunc(failures, func(a, b opFailure) int {
		if c := strings.Compare(a.host, b.host); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	first := map[[2]string]bool{}
	for _, f := range failures {
		failed[f.host] = true
		key := [2]string{f.op.Path, f.host}
		if first[key] {
			continue
		}
		first[key] = true
		r.fallBehind(f.host, f.op, f.err)
		// A copy that changed under the op is for the repair to judge
		// (the source saving again, or a user on the target); unreachable
		// hosts are the supervisor's.
		if f.err.Kind != wire.KindChanged && f.err.Kind != wire.KindUnreachable {
			r.addError(f.err)
		}
	}
	return failed
}

// indexChanges records done in the index and counts it in the status.
func (r *run) indexChanges(host string, targets []string, done []liveChange, ok map[string]map[string]bool) {
	for _, a := range done {
		ch := a.change
		r.indexChange(host, targets, a, ok)
		r.update(func(st *api.SessionStatus) {
			if ch.Kind == wire.ChangeWrite {
				st.Live.Files++
				st.Live.Bytes += ch.Entry.Size
			}
			st.Live.Changes++
		})
	}
}

// indexChange records a's change in the index.
func (r *run) indexChange(host string, targets []string, a liveChange, ok map[string]map[string]bool) {
	// The index follows: the source holds the new state, and every target
	// whose op succeeded.
	ch := a.change
	switch ch.Kind {
	case wire.ChangeRemove:
		var left []string
		if a.had {
			for _, h := range a.prior.Hosts {
				if h != host && !ok[ch.Path][h] {
					left = append(left, h)
				}
			}
		}
		if len(left) == 0 {
			r.forget(ch.Path)
		} else if err := r.h.db.PutIndex(r.cfg.Name, []conflict.Record{{Entry: a.prior.Entry, Hosts: left}}); err != nil {
			r.log.Error().Err(err).Msg("index")
		}
	default:
		if ch.Kind == wire.ChangeRename {
			// What the destination held is replaced; the records
			// below the old path move with it (a folder's files).
			r.forget(ch.Path)
			if _, err := r.h.db.MoveIndex(r.cfg.Name, ch.OldPath, ch.Path); err != nil {
				r.log.Error().Err(err).Msg("index")
			}
		}
		hosts := []string{host}
		for _, t := range targets {
			if ok[ch.Path][t] {
				hosts = append(hosts, t)
			}
		}
		if err := r.h.db.PutIndex(r.cfg.Name, []conflict.Record{{Entry: ch.Entry, Hosts: hosts}}); err != nil {
			r.log.Error().Err(err).Msg("index")
		}
	}
}

// sentChanges returns the changes of done.
func sentChanges(done []liveChange) []wire.Change {
	sent := make([]wire.Change, len(done))
	for i, a := range done {
		sent[i] = a.change
	}
	return sent
}

// relockSaved locks again the files of done that host still holds.
func (r *run) relockSaved(ctx context.Context, c *broker.Client, host string, done []liveChange, ok map[string]map[string]bool) {
	// A save by a source that keeps the file open (an office document,
	// whose lock file stays): the fetch replaced each locked copy and so
	// released its lock; the new copy is locked again.
	for _, a := range done {
		ch := a.change
		if l := r.locks[ch.Path]; ch.Kind == wire.ChangeWrite && l != nil && l.source == host && !r.quarantined(ch.Path) {
			var relock []string
			for _, t := range l.targets {
				if ok[ch.Path][t] {
					relock = append(relock, t)
				}
			}
			r.relock(ctx, c, l, relock)
		}
	}
}

// forget drops path's record and everything below it.
func (r *run) forget(path string) {
	paths := []string{path}
	err := r.h.db.ForEachIndex(r.cfg.Name, path+"/", func(rec conflict.Record) error {
		paths = append(paths, rec.Entry.Path)
		return nil
	})
	if err == nil {
		err = r.h.db.DeleteIndex(r.cfg.Name, paths)
	}
	if err != nil {
		r.log.Error().Err(err).Msg("index")
	}
}

// echo reports a change that only repeats what the index already holds:
// a target reporting the op the hub had it apply, or a touch that changed
// nothing. Propagating it would bounce between hosts.
func echo(ch wire.Change, prior conflict.Record, had bool) bool {
	switch ch.Kind {
	case wire.ChangeRemove:
		return !had
	case wire.ChangeRename:
		return false
	default:
		return had && prior.Entry == ch.Entry
	}
}

// recordTransfer writes one event for a propagated batch: how much went
// from host to which targets, and where it failed. One per batch, not per
// file, so that an unzip of thousands of files is one line of the log.
func (r *run) recordTransfer(host string, targets []string, applied []wire.Change, failed map[string]bool) {
	if len(applied) == 0 {
		return
	}
	var files, bytes, other int64
	for _, ch := range applied {
		if ch.Kind == wire.ChangeWrite {
			files++
			bytes += ch.Entry.Size
		} else {
			other++
		}
	}
	var reached, missed []string
	for _, t := range targets {
		if failed[t] {
			missed = append(missed, t)
			continue
		}
		reached = append(reached, t)
	}
	var what []string
	if files > 0 {
		what = append(what, fmt.Sprintf("%d file(s), %d bytes", files, bytes))
	}
	if other > 0 {
		what = append(what, fmt.Sprintf("%d other change(s)", other))
	}
	msg := fmt.Sprintf("%s from %s", strings.Join(what, " and "), host)
	if len(reached) > 0 {
		msg += " to " + strings.Join(reached, ", ")
	}
	if len(missed) > 0 {
		msg += "; failed on " + strings.Join(missed, ", ") + " (see the session's errors)"
	}
	var path string
	if len(applied) == 1 {
		path = applied[0].Path
	}
	r.event("transfer", host, path, msg)
}
