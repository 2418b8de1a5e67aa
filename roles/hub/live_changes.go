package hub

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// changes propagates what host's users did to every other host, in order,
// and keeps the index current. It returns the hosts on which some op
// failed.
func (r *run) changes(ctx context.Context, c *broker.Client, host string, batch []wire.Change) map[string]bool {
	targets := r.otherHosts(host)
	done, ops := r.decide(host, targets, batch)
	if len(done) == 0 {
		return nil
	}
	ok, failed, conflicts := r.applyChanges(ctx, c, ops)
	r.indexChanges(host, targets, done, ok)
	r.recordTransfer(host, targets, sentChanges(done), failed)
	r.quarantineChanged(host, conflicts)
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
		if !ok {
			continue
		}
		seen.note(len(done), ch)
		done = append(done, a)
	}
	ops := map[string][]wire.Op{}
	for _, a := range done {
		for _, t := range targets {
			if op, ok := changeOp(host, t, a); ok {
				ops[t] = append(ops[t], op)
			}
		}
	}
	return done, ops
}

// batchPaths is what the changes of a batch decided so far leave at each
// path they touched. A host reports some changes twice (its live path and
// a rescan after lost events may both see a file made in a burst), and
// the hub gathers a host's reports into one batch: judged against the
// index alone, which is written after the batch, the second report of a
// new file would be sent as a second create, which the target refuses
// because the first put the file there ("appeared since the scan"), and
// the path would be quarantined as a concurrent edit of a copy the hub
// itself had just sent (issue 17). Two versions of one file in a batch are
// one change: the targets fetch a batch's files at once, so the second
// could not find the first in place.
type batchPaths map[string]batchPath

// batchPath is one path's state after a batch's changes so far.
type batchPath struct {
	at    int        // the index in done of the change that left it so
	gone  bool       // removed or renamed away
	entry wire.Entry // otherwise what is there now
}

// follow handles ch when it only repeats or updates what an earlier change
// of the batch does at the same path, st: a repeat is dropped, a newer
// version or mode of a file becomes that change's. It reports whether ch
// was so handled.
func (b batchPaths) follow(done []liveChange, st batchPath, ch wire.Change) bool {
	prev := &done[st.at].change
	switch {
	case st.gone || ch.Kind == wire.ChangeRename || ch.Kind == wire.ChangeRemove:
		return false
	case ch.Entry == st.entry:
		return true
	case fileChange(*prev) && fileChange(ch) && prev.Path == ch.Path:
		if ch.Kind == wire.ChangeWrite {
			prev.Kind = wire.ChangeWrite
		}
		prev.Entry = ch.Entry
		b[ch.Path] = batchPath{at: st.at, entry: ch.Entry}
		return true
	}
	return false
}

// fileChange reports whether ch writes a file or changes its metadata.
func fileChange(ch wire.Change) bool {
	return (ch.Kind == wire.ChangeWrite || ch.Kind == wire.ChangeMeta) && ch.Entry.Kind == wire.KindFile
}

// note records what the change at index i of done leaves. What was below
// a path removed or renamed is not known any more: the index says it.
func (b batchPaths) note(i int, ch wire.Change) {
	switch ch.Kind {
	case wire.ChangeRemove:
		b.forgetBelow(ch.Path)
		b[ch.Path] = batchPath{at: i, gone: true}
	case wire.ChangeRename:
		b.forgetBelow(ch.OldPath)
		b.forgetBelow(ch.Path)
		b[ch.OldPath] = batchPath{at: i, gone: true}
		b[ch.Path] = batchPath{at: i, entry: ch.Entry}
	default:
		b[ch.Path] = batchPath{at: i, entry: ch.Entry}
	}
}

func (b batchPaths) forgetBelow(p string) {
	for k := range b {
		if strings.HasPrefix(k, p+"/") {
			delete(b, k)
		}
	}
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
	var prior conflict.Record
	var had bool
	if before != nil {
		// Every target is to hold what the batch left there.
		had = !before.gone
		if had {
			prior = conflict.Record{Entry: before.entry, Hosts: append([]string{host}, targets...)}
		}
	} else {
		key := ch.Path
		if ch.Kind == wire.ChangeRename {
			key = ch.OldPath
		}
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
	if l := r.locks[ch.Path]; l != nil && l.source != host {
		// A change to a file another host holds: a second writer.
		l.writers[host] = true
		if ch.Kind == wire.ChangeWrite {
			e := ch.Entry
			l.closed[host] = &e
		}
		return liveChange{}, false
	}
	return liveChange{change: ch, prior: prior, had: had}, true
}

// changeOp returns the op that carries a's change from host to target, if
// target needs one.
func changeOp(host, target string, a liveChange) (wire.Op, bool) {
	ch := a.change
	var have *wire.Entry
	if a.had && slices.Contains(a.prior.Hosts, target) {
		e := a.prior.Entry
		have = &e
	}
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

// applyChanges sends every target its ops. It returns the targets on
// which some op failed, and the errors of those refused because the
// target's copy had changed.
func (r *run) applyChanges(ctx context.Context, c *broker.Client, ops map[string][]wire.Op) (ok map[string]map[string]bool, failed map[string]bool, conflicts []wire.Error) {
	// Every target applies its ops; results say who now holds what.
	var mu sync.Mutex
	ok = map[string]map[string]bool{} // path -> host -> applied
	failed = map[string]bool{}
	g, gctx := errgroup.WithContext(ctx)
	for t, list := range ops {
		if !r.h.connected(t) {
			failed[t] = true
			continue
		}
		g.Go(func() error {
			for len(list) > 0 {
				n := min(len(list), wire.MaxBatch)
				err := r.applyOps(gctx, c, t, list[:n], func(results []wire.OpResult) error {
					mu.Lock()
					defer mu.Unlock()
					for _, res := range results {
						if res.Error != nil {
							e := *res.Error
							e.Host = t
							failed[t] = true
							if e.Kind == wire.KindChanged {
								conflicts = append(conflicts, e)
							} else {
								r.addError(e)
							}
							continue
						}
						if ok[res.Path] == nil {
							ok[res.Path] = map[string]bool{}
						}
						ok[res.Path][t] = true
					}
					return nil
				})
				if err != nil {
					mu.Lock()
					failed[t] = true
					r.addError(*wire.ToError("apply", t, "", err))
					mu.Unlock()
					return nil
				}
				list = list[n:]
			}
			return nil
		})
	}
	g.Wait()
	return ok, failed, conflicts
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

// quarantineChanged quarantines the paths whose ops met a changed copy.
func (r *run) quarantineChanged(host string, conflicts []wire.Error) {
	// A target whose copy changed under the op edited it at the same time:
	// both versions are kept and the path goes to the File Conflict List.
	for _, e := range conflicts {
		r.quarantineLive(e.Path, conflict.ReasonConcurrentEdit,
			fmt.Sprintf("changed on %s while %s's change was being applied: %s", e.Host, host, e.Msg), nil)
	}
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
