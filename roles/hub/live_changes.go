package hub

import (
	"context"
	"fmt"
	"github.com/rs/zerolog"
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
	r.moveLocks(done)
	failed := r.lagBehind(ok, failures)
	r.recordTransfer(host, targets, sentChanges(done), failed)
	r.relockSaved(ctx, c, host, done, ok)
	return failed
}

// decide returns the changes of batch that are propagated, in order, and
// the ops that carry them to each target: the engine decides
// (conflict.Live) from what the hub gathers here, and the hub notes what
// it refused (name clashes quarantined, second writers, lagging sources).
func (r *run) decide(host string, targets []string, batch []wire.Change) ([]conflict.LiveChange, map[string][]wire.Op) {
	in := r.liveInput(host, targets, batch)
	plan := conflict.Live(in)
	for _, q := range plan.Quarantines {
		r.quarantineLive(q.Path, q.Reason, q.Detail, q.Copies)
	}
	if r.log.GetLevel() <= zerolog.DebugLevel {
		for _, a := range plan.Done {
			r.log.Debug().Str("host", host).Str("kind", a.Change.Kind.String()).Str("path", a.Change.Path).Str("old", a.Change.OldPath).Msg("live change")
		}
		for _, ref := range plan.Refused {
			r.log.Debug().Str("host", host).Str("kind", ref.Change.Kind.String()).Str("path", ref.Change.Path).Str("why", string(ref.Why)).Msg("live change not carried")
		}
	}
	for _, ref := range plan.Refused {
		ch := ref.Change
		switch ref.Why {
		case conflict.LiveSecondWriter:
			if ch.Kind == wire.ChangeRemove || ch.Kind == wire.ChangeMeta {
				r.lockedCopyChanged(host, ch)
				break
			}
			// A new version of a file another host holds (written, or
			// saved by a rename over it): a second writer, whose version
			// the lock's last close weighs.
			l := r.locks[ch.Path]
			l.writers[host] = true
			e := ch.Entry
			l.closed[host] = &e
		case conflict.LiveLagging:
			r.lagging(conflict.LiveChange{Change: ch}.Key(), host).due = time.Now()
		case conflict.LiveKeptBelow:
			r.log.Info().Str("host", host).Str("path", ch.Path).
				Msg("folder removed while content it did not hold arrived in it: what it held is removed, the folder kept with the rest")
			var folder *conflict.Record
			if rec, ok := in.Index[ch.Path]; ok {
				folder = &rec
			}
			r.keptFromRemover(host, ch.Path, folder, in.Below[ch.Path])
		}
	}
	return plan.Done, plan.Ops
}

// liveInput gathers what the engine decides batch from: the index records
// of its paths, the folders it may add names to, and the parts of the
// lock table, the File Conflict List, the lags and the versions applied
// lately that concern its paths.
func (r *run) liveInput(host string, targets []string, batch []wire.Change) conflict.LiveInput {
	in := conflict.LiveInput{Host: host, Targets: targets, Batch: batch,
		Index: map[string]conflict.Record{}, Unread: map[string]bool{}, Folders: map[string][]string{},
		Quarantined: map[string]bool{}, Locks: map[string]string{},
		Lagging: map[string]map[string]*wire.Entry{}, Applied: map[wire.Entry]bool{}}
	now := time.Now()
	for _, ch := range batch {
		key := conflict.LiveChange{Change: ch}.Key()
		for _, p := range []string{ch.Path, key} {
			if r.quarantined(p) {
				in.Quarantined[p] = true
			}
		}
		if l := r.locks[ch.Path]; l != nil {
			in.Locks[ch.Path] = l.source
		}
		r.addLags(&in, key)
		if ch.Kind != wire.ChangeRemove && ch.Kind != wire.ChangeRename && r.recent.echo(host, ch.Entry, now) {
			in.Applied[ch.Entry] = true
		}
	}
	for _, p := range conflict.LiveIndexPaths(batch) {
		rec, had, err := r.h.db.Index(r.cfg.Name, p)
		switch {
		case err != nil:
			r.log.Error().Err(err).Msg("index")
			in.Unread[p] = true
		case had:
			in.Index[p] = rec
		}
	}
	r.liveBelow(&in)
	for _, dir := range conflict.LiveFolders(batch, in.Index) {
		var names []string
		if err := r.h.db.IndexChildren(r.cfg.Name, dir, func(name string) { names = append(names, name) }); err != nil {
			r.log.Error().Err(err).Msg("index")
			continue
		}
		in.Folders[dir] = names
	}
	return in
}

// addLags adds to in the hosts that lag on path, each with its copy.
func (r *run) addLags(in *conflict.LiveInput, path string) {
	for h, l := range r.lags[path] {
		if in.Lagging[path] == nil {
			in.Lagging[path] = map[string]*wire.Entry{}
		}
		in.Lagging[path][h] = l.have
	}
}

// liveBelow adds to in the index's records below each folder its batch
// removes, with the lags of those paths.
func (r *run) liveBelow(in *conflict.LiveInput) {
	in.Below = map[string][]conflict.Record{}
	for _, dir := range conflict.LiveRemovedFolders(in.Batch, in.Index) {
		var below []conflict.Record
		err := r.h.db.ForEachIndex(r.cfg.Name, dir+"/", func(rec conflict.Record) error {
			below = append(below, rec)
			r.addLags(in, rec.Entry.Path)
			return nil
		})
		if err != nil {
			// Judged as before: the removal takes the folder whole.
			r.log.Error().Err(err).Msg("index")
			continue
		}
		in.Below[dir] = below
	}
}

// indexChanges records done in the index and counts it in the status.
func (r *run) indexChanges(host string, targets []string, done []conflict.LiveChange, ok map[string]map[string]bool) {
	away := map[string]bool{}
	for h, a := range r.away {
		away[h] = a != nil
	}
	for _, a := range done {
		ch := a.Change
		r.indexUpdate(a.Update(host, targets, ok[ch.Path], away))
		r.update(func(st *api.SessionStatus) {
			if ch.Kind == wire.ChangeWrite {
				st.Live.Files++
				st.Live.Bytes += ch.Entry.Size
			}
			st.Live.Changes++
		})
	}
}

// indexUpdate writes u to the index.
func (r *run) indexUpdate(u conflict.LiveUpdate) {
	if u.Forget != "" {
		r.forget(u.Forget)
	}
	if u.MoveFrom != "" {
		if _, err := r.h.db.MoveIndex(r.cfg.Name, u.MoveFrom, u.MoveTo); err != nil {
			r.log.Error().Err(err).Msg("index")
		}
		r.moveLags(u.MoveFrom, u.MoveTo)
		r.moveQuarantines(u.MoveFrom, u.MoveTo)
	}
	if u.Put != nil {
		if err := r.h.db.PutIndex(r.cfg.Name, []conflict.Record{*u.Put}); err != nil {
			r.log.Error().Err(err).Msg("index")
		}
	}
}

// sentChanges returns the changes of done.
func sentChanges(done []conflict.LiveChange) []wire.Change {
	sent := make([]wire.Change, len(done))
	for i, a := range done {
		sent[i] = a.Change
	}
	return sent
}

// relockSaved locks again the files of done that host still holds.
func (r *run) relockSaved(ctx context.Context, c *broker.Client, host string, done []conflict.LiveChange, ok map[string]map[string]bool) {
	// A save by a source that keeps the file open (an office document,
	// whose lock file stays): the fetch replaced each locked copy and so
	// released its lock; the new copy is locked again.
	for _, a := range done {
		ch := a.Change
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

// lockedCopyChanged handles a removal or a mode change of a copy that
// another host holds open for writing, made before the lock reached it. It is no version to weigh at the lock's close, and no
// writer whose close would come (make chaos, seed 12064: a removal taken
// for a second writer kept the lock waiting for a close for good): the
// host lags on the path instead, holding what the change left, and once
// the writer closes the repair brings it the version the lock settled on,
// as an edit wins over a delete.
func (r *run) lockedCopyChanged(host string, ch wire.Change) {
	var have *wire.Entry // a removal leaves none
	if ch.Kind == wire.ChangeMeta {
		e := ch.Entry
		have = &e
	}
	if r.lags[ch.Path] == nil {
		r.lags[ch.Path] = map[string]*lag{}
	}
	r.lags[ch.Path][host] = &lag{have: have, due: time.Now()}
	r.log.Debug().Str("host", host).Str("kind", ch.Kind.String()).Str("path", ch.Path).
		Str("writer", r.locks[ch.Path].source).Msg("copy changed as the lock reached it: repaired after the writer's close")
}
