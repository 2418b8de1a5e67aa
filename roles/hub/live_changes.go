package hub

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// changes propagates what host's users did to every other host, in order,
// and keeps the index current. It returns the hosts on which some op
// failed; those hosts lag on the op's path until a repair (live_lag.go).
func (r *run) changes(ctx context.Context, c *broker.Client, host string, batch []wire.Change) map[string]bool {
	start := time.Now()
	targets := r.otherHosts(host)
	done, ops := r.decide(host, targets, batch)
	if len(done) == 0 {
		return nil
	}
	ok, failures := r.applyChanges(ctx, c, ops)
	if len(failures) == 0 {
		r.h.metrics.Propagated(r.cfg.Name, time.Since(start))
	}
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
// the ops that carry them to each target. Each change is judged against
// what the changes before it in the batch leave at its path (see
// batchPaths), the index being that only for paths the batch has not
// touched yet.
func (r *run) decide(host string, targets []string, batch []wire.Change) ([]liveChange, map[string][]wire.Op) {
	var done []liveChange
	seen := batchPaths{}
	names := r.newNameFolds()
	for _, ch := range batch {
		key := ch.Path
		if ch.Kind == wire.ChangeRename {
			key = ch.OldPath
		}
		st, touched := seen[key]
		if touched && seen.follow(done, st, ch) {
			continue
		}
		var before *batchPath
		if touched {
			before = &st
		}
		a, ok := r.classify(host, ch, before, targets)
		if !ok || names.clashes(host, a) {
			continue
		}
		names.follow(ch)
		seen.note(len(done), ch)
		done = append(done, a)
	}
	ops := map[string][]wire.Op{}
	for _, a := range done {
		for _, t := range targets {
			if op, ok := changeOp(host, t, a, r.targetHas(a, t)); ok {
				ops[t] = append(ops[t], op)
			}
		}
	}
	return done, ops
}

// classify looks ch up in the index, or in before, what the batch's
// earlier changes left at its path (nil: they did not touch it), and
// reports whether it is propagated: it is not if its path is quarantined,
// if it is an echo, or if another host holds the file (host is then a
// second writer).
func (r *run) classify(host string, ch wire.Change, before *batchPath, targets []string) (liveChange, bool) {
	if r.quarantined(ch.Path) || (ch.Kind == wire.ChangeRename && r.quarantined(ch.OldPath)) {
		return liveChange{}, false
	}
	key := ch.Path
	if ch.Kind == wire.ChangeRename {
		key = ch.OldPath
	}
	var prior conflict.Record
	var had bool
	if before != nil {
		// Every target is to hold what the batch left there.
		had = !before.gone
		if had {
			prior = conflict.Record{Entry: before.entry, Hosts: append([]string{host}, targets...)}
		}
	} else {
		var err error
		prior, had, err = r.h.db.Index(r.cfg.Name, key)
		if err != nil {
			r.log.Error().Err(err).Msg("index")
			return liveChange{}, false
		}
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
		// host's own copy lags: its change was made to an old version,
		// which the repair judges.
		l.due = time.Now()
		return liveChange{}, false
	}
	return liveChange{change: ch, prior: prior, had: had}, true
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
				// A host away keeps its copy in its ledger (away.go).
				if h != host && !ok[ch.Path][h] && r.away[h] == nil {
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
