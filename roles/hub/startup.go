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
	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// applyBatch is how many ops one Apply carries: the most a message may
// (wire.MaxBatch), since each Apply ends with the target's sync and a round
// trip during which nothing moves; 100,000 small files take 25 of them. Its
// header stays far below the frame limit.
const applyBatch = wire.MaxBatch

// startup is the seed's Step 1: attach every host, scan, merge and resolve,
// then transfer until every host holds the same tree.
func (r *run) startup(ctx context.Context) error {
	hosts := r.hostNames()
	r.setPhase(api.PhaseAttaching)
	if err := r.h.waitHosts(ctx, hosts, r.h.cfg.HostWait); err != nil {
		return err
	}
	c := r.h.client()
	if c == nil {
		return errUnreachableBroker()
	}
	r.update(func(st *api.SessionStatus) {
		r.confirmed = 0
		st.Started, st.Synced = time.Now(), time.Time{}
		st.Files, st.Bytes, st.Errors, st.ErrorCount, st.Warnings = api.Counter{}, api.Counter{}, nil, 0, nil
	})
	// What the hosts reported while the session was not running is stale
	// once they attach again: the scan sees where it led, and a remove
	// queued during an outage must not undo what was made since.
	r.drainLive()
	if err := r.attach(ctx, c); err != nil {
		return err
	}
	// Every host undid its target locks as it attached; the writers still
	// open are reported again and locked anew once the session runs.
	r.dropHeld()

	r.setPhase(api.PhaseScanning)
	scans, skipped, err := r.scan(ctx, c)
	if err != nil {
		return err
	}

	r.setPhase(api.PhaseMerging)
	plan, err := r.merge(scans, skipped)
	if err != nil {
		return err
	}
	scans = nil

	r.setPhase(api.PhaseSyncing)
	r.update(func(st *api.SessionStatus) {
		st.Files.Total, st.Bytes.Total = plan.Files, plan.Bytes
	})
	if err := r.transfer(ctx, c, plan); err != nil {
		return err
	}
	r.update(func(st *api.SessionStatus) {
		st.Phase, st.Synced = api.PhaseRunning, time.Now()
	})
	st := r.status()
	r.log.Info().Int64("files", st.Files.Done).Int64("bytes", st.Bytes.Done).Int("errors", st.ErrorCount).
		Dur("took", st.Synced.Sub(st.Started)).Msg("initial synchronisation done")
	r.event("synced", "", "", fmt.Sprintf("initial synchronisation done: %d files, %d bytes, %d errors, %d conflicts, in %s",
		st.Files.Done, st.Bytes.Done, st.ErrorCount, st.Quarantined, st.Synced.Sub(st.Started).Round(time.Millisecond)))
	return r.h.db.PutSessionState(r.cfg.Name, store.SessionState{Desired: store.DesiredRunning, Phase: string(api.PhaseRunning), Started: st.Started, Finished: st.Synced})
}

func (r *run) attach(ctx context.Context, c *broker.Client) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, hr := range r.cfg.Hosts {
		g.Go(func() error {
			m := &wire.Attach{Session: r.cfg.Name, Root: hr.Root, Exclude: r.cfg.Exclude, Hosts: r.hostNames()}
			if r.cfg.TargetProtection == nil || *r.cfg.TargetProtection {
				m.ProtectDays = max(r.cfg.ProtectDays, 1)
			}
			if _, err := c.Request(ctx, hr.Host, m, nil); err != nil {
				err = wire.ToError("attach", hr.Host, "", err)
				r.setHost(hr.Host, "failed", err)
				return err
			}
			r.setHost(hr.Host, "attached", nil)
			return nil
		})
	}
	return g.Wait()
}

// scan collects every host's scan. Entries stay on the hub only for the
// merge.
//
// skipped holds the paths some host could not read (its scan's warnings):
// they are left alone this time, on every host, since an unreadable copy
// must not pass for a deleted one.
func (r *run) scan(ctx context.Context, c *broker.Client) (scans map[string][]wire.Entry, skipped map[string]bool, err error) {
	scans = make(map[string][]wire.Entry, len(r.cfg.Hosts))
	skipped = map[string]bool{}
	var skippedMu sync.Mutex
	results := make([][]wire.Entry, len(r.cfg.Hosts))
	g, ctx := errgroup.WithContext(ctx)
	for i, hr := range r.cfg.Hosts {
		g.Go(func() error {
			r.setHost(hr.Host, "scanning", nil)
			err := scanHost(ctx, c, r.cfg.Name, hr.Host, "", func(part *wire.ScanPart) error {
				results[i] = append(results[i], part.Entries...)
				r.mu.Lock()
				defer r.mu.Unlock()
				r.h.notify(api.NoticeSessions, r.cfg.Name)
				hs := r.host[hr.Host]
				hs.Files = int64(len(results[i]))
				if part.Done {
					hs.Bytes, hs.Hashed = part.Stats.Bytes, part.Stats.Hashed
				}
				for _, w := range part.Warnings {
					switch {
					case unreadable(w):
						// Not synchronised until someone fixes it: an
						// error, so that start --wait fails naming it.
						r.st.ErrorCount++
						if len(r.st.Errors) < maxErrors {
							r.st.Errors = append(r.st.Errors, w)
						}
					case len(r.st.Warnings) < maxErrors:
						r.st.Warnings = append(r.st.Warnings, w.Error())
					}
					if w.Path != "" {
						skippedMu.Lock()
						skipped[w.Path] = true
						skippedMu.Unlock()
					}
				}
				return nil
			})
			if err != nil {
				r.setHost(hr.Host, "failed", err)
				return err
			}
			r.setHost(hr.Host, "scanned", nil)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	for i, hr := range r.cfg.Hosts {
		scans[hr.Host] = results[i]
	}
	return scans, skipped, nil
}

// unreadable tells a scan warning about a file or folder the agent could
// not read (permission denied, an I/O error...), which only an
// administrator can fix, from one about what peerlink skips by design (a
// symlink, a name no file system can hold) or a file being written right
// now, which the next scan picks up.
func unreadable(w wire.Error) bool {
	return w.Kind != wire.KindInvalid && w.Kind != wire.KindChanged
}

// scanHost has host scan the session's root (or only path and below it)
// and calls each with every part as it arrives.
func scanHost(ctx context.Context, c *broker.Client, session, host, path string, each func(*wire.ScanPart) error) error {
	s, err := c.Call(ctx, host, &wire.Scan{Session: session, Path: path}, nil)
	if err != nil {
		return wire.ToError("scan", host, path, err)
	}
	defer s.Close()
	for {
		in, err := s.Recv(ctx)
		if err != nil {
			return wire.ToError("scan", host, path, err)
		}
		part, ok := in.Msg.(*wire.ScanPart)
		if !ok {
			return fmt.Errorf("scan on %s: unexpected reply %s", host, in.Type)
		}
		if err := each(part); err != nil {
			return err
		}
		if part.Done {
			return nil
		}
	}
}

// merge resolves the scans against the last index and records the new
// index before anything moves: a record lists only the hosts that already
// hold its state, and each host is added as its transfer completes, so a
// crash in between leaves an index that is true.
func (r *run) merge(scans map[string][]wire.Entry, skipped map[string]bool) (conflict.Plan, error) {
	last, err := r.h.db.LoadIndex(r.cfg.Name)
	if err != nil {
		return conflict.Plan{}, err
	}
	qs, err := r.h.db.Quarantines(r.cfg.Name)
	if err != nil {
		return conflict.Plan{}, err
	}
	quarantined := make(map[string]bool, len(qs))
	for _, q := range qs {
		quarantined[q.Path] = true
	}
	// Left alone like a quarantine, for this start only.
	leftAlone := make(map[string]bool, len(quarantined)+len(skipped))
	for p := range quarantined {
		leftAlone[p] = true
	}
	for p := range skipped {
		leftAlone[p] = true
	}
	// Offline Delete Detection acts only "if this option is enabled and
	// target protection is enabled" (the seed): without protection, what
	// was deleted offline is brought back.
	opt, optWarn := r.cfg.Options, ""
	if opt.OfflineDeleteDetection && r.cfg.TargetProtection != nil && !*r.cfg.TargetProtection {
		opt.OfflineDeleteDetection = false
		optWarn = "offline delete detection is inactive because target protection is off: paths deleted while the session was stopped are brought back (turn protection on with `peerlink session set " + r.cfg.Name + " --target-protection=true`)"
	}
	plan := conflict.Resolve(conflict.Input{Hosts: r.hostNames(), Scans: scans, Last: last, Quarantined: leftAlone, Options: opt})
	if optWarn != "" {
		plan.Warnings = append([]string{optWarn}, plan.Warnings...)
	}

	var changed []conflict.Record
	for p, rec := range plan.Index {
		if old, ok := last[p]; !ok || !sameRecord(old, rec) {
			changed = append(changed, rec)
		}
	}
	// What the plan deletes keeps its record until every host's deletion
	// is done (forgetDeleted).
	deleting := deletedPaths(plan.Ops)
	var gone []string
	for p := range last {
		if _, ok := plan.Index[p]; !ok && !underAny(p, leftAlone) && !underAny(p, deleting) {
			gone = append(gone, p)
		}
	}
	if err := r.h.db.PutIndex(r.cfg.Name, changed); err != nil {
		return conflict.Plan{}, err
	}
	if err := r.h.db.DeleteIndex(r.cfg.Name, gone); err != nil {
		return conflict.Plan{}, err
	}
	if len(plan.Quarantines) > 0 {
		add := make([]store.Quarantine, len(plan.Quarantines))
		for i, q := range plan.Quarantines {
			add[i] = store.Quarantine{Quarantine: q}
		}
		if err := r.h.db.PutQuarantines(r.cfg.Name, add); err != nil {
			return conflict.Plan{}, err
		}
	}
	if len(plan.Released) > 0 {
		if err := r.h.db.DeleteQuarantines(r.cfg.Name, plan.Released); err != nil {
			return conflict.Plan{}, err
		}
	}
	r.recordConflicts(plan)
	r.update(func(st *api.SessionStatus) {
		st.Quarantined = len(qs) + len(plan.Quarantines) - len(plan.Released)
		r.quarantine = make(map[string]bool, st.Quarantined)
		for p := range quarantined {
			r.quarantine[p] = true
		}
		for _, q := range plan.Quarantines {
			r.quarantine[q.Path] = true
		}
		for _, p := range plan.Released {
			delete(r.quarantine, p)
		}
		for _, w := range plan.Warnings {
			if len(st.Warnings) < maxErrors {
				st.Warnings = append(st.Warnings, w)
			}
		}
	})
	r.h.notify(api.NoticeConflicts, r.cfg.Name)
	r.log.Info().Int("paths", len(plan.Index)).Int("index_changed", len(changed)).Int("index_gone", len(gone)).
		Int64("files", plan.Files).Int64("bytes", plan.Bytes).Int("quarantined", len(plan.Quarantines)).Msg("merged")
	return plan, nil
}

// underAny reports whether p or one of its parent folders is in set.
func underAny(p string, set map[string]bool) bool {
	for {
		if set[p] {
			return true
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return false
		}
		p = p[:i]
	}
}

func sameRecord(a, b conflict.Record) bool {
	if a.Entry != b.Entry || len(a.Hosts) != len(b.Hosts) {
		return false
	}
	for _, h := range a.Hosts {
		if !slices.Contains(b.Hosts, h) {
			return false
		}
	}
	return true
}

// parallelOnly reports whether ops are all fetches and metadata changes,
// which a target applies in any order: two such batches may overlap.
func parallelOnly(ops []wire.Op) bool {
	for i := range ops {
		if k := ops[i].Kind; k != wire.OpFetch && k != wire.OpMeta {
			return false
		}
	}
	return true
}

// transfer sends every host its ops, all hosts at once, and records each
// completed op in the index.
func (r *run) transfer(ctx context.Context, c *broker.Client, plan conflict.Plan) error {
	g, ctx := errgroup.WithContext(ctx)
	var undelMu sync.Mutex
	undeleted := map[string]bool{} // paths whose deletion failed on some host
	for host, ops := range plan.Ops {
		if len(ops) == 0 {
			continue
		}
		g.Go(func() error {
			r.setHost(host, "applying", nil)
			moved := movedBelow(plan.Index, ops)
			apply := func(batch []wire.Op) error {
				return r.applyOps(ctx, c, host, batch, func(results []wire.OpResult) error {
					undelMu.Lock()
					for _, res := range results {
						if res.Error != nil && res.Kind == wire.OpDelete {
							undeleted[res.Path] = true
						}
					}
					undelMu.Unlock()
					return r.applied(host, results, moved)
				})
			}
			// Two batches of fetches may be in flight at once: the next
			// one starts while the last one's files are made durable
			// (each Apply ends with the target's sync), so the link does
			// not idle between them. A batch with ops whose order matters
			// (mkdir, rename, delete) runs alone.
			var prev chan error
			var prevParallel bool
			wait := func() error {
				if prev == nil {
					return nil
				}
				err := <-prev
				prev = nil
				return err
			}
			for len(ops) > 0 {
				n := min(len(ops), applyBatch)
				batch, par := ops[:n], parallelOnly(ops[:n])
				ops = ops[n:]
				if !(par && prevParallel) {
					if err := wait(); err != nil {
						r.setHost(host, "failed", err)
						return err
					}
				}
				done := make(chan error, 1)
				go func() { done <- apply(batch) }()
				if err := wait(); err != nil {
					<-done
					r.setHost(host, "failed", err)
					return err
				}
				prev, prevParallel = done, par
			}
			if err := wait(); err != nil {
				r.setHost(host, "failed", err)
				return err
			}
			return nil
		})
	}
	err := g.Wait()
	// Progress reports are live but approximate (a failed file's bytes were
	// counted as they landed); the total of confirmed transfers is exact.
	r.update(func(st *api.SessionStatus) { st.Bytes.Done = r.confirmed })
	for _, hr := range r.cfg.Hosts {
		if err == nil {
			r.setHost(hr.Host, "synced", nil)
		}
	}
	if err != nil {
		return err
	}
	return r.forgetDeleted(plan, undeleted)
}

// deletedPaths returns the paths some host's ops delete.
func deletedPaths(ops map[string][]wire.Op) map[string]bool {
	out := map[string]bool{}
	for _, hostOps := range ops {
		for i := range hostOps {
			if hostOps[i].Kind == wire.OpDelete {
				out[hostOps[i].Path] = true
			}
		}
	}
	return out
}

// forgetDeleted drops the records of what the plan deleted, and of
// everything below it, once every host's deletion is done. Until then
// (merge keeps them) a record says the path was synchronised: a deletion
// refused on some host (its copy changed since the scan, or target
// protection could not keep it) leaves the record as it was, so the next
// start sees the path deleted where it is gone and unchanged where it
// stayed, and deletes it again instead of bringing it back as new.
func (r *run) forgetDeleted(plan conflict.Plan, undeleted map[string]bool) error {
	var forget []string
	for d := range deletedPaths(plan.Ops) {
		if underAny(d, undeleted) {
			continue
		}
		err := r.h.db.ForEachIndex(r.cfg.Name, d, func(rec conflict.Record) error {
			p := rec.Entry.Path
			if p != d && !strings.HasPrefix(p, d+"/") {
				return nil
			}
			if _, ok := plan.Index[p]; !ok && !underAny(p, undeleted) {
				forget = append(forget, p)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return r.h.db.DeleteIndex(r.cfg.Name, forget)
}

// movedBelow returns, for each folder a host renames, the indexed paths
// below its new place that the host's other ops do not touch: the rename
// alone brings those to their indexed state.
func movedBelow(index map[string]conflict.Record, ops []wire.Op) map[string][]string {
	var renamed []string
	touched := make(map[string]bool, len(ops))
	for i := range ops {
		touched[ops[i].Path] = true
		if ops[i].Kind == wire.OpRename {
			renamed = append(renamed, ops[i].Path)
		}
	}
	if len(renamed) == 0 {
		return nil
	}
	moved := make(map[string][]string, len(renamed))
	for p := range index {
		if touched[p] {
			continue
		}
		for _, dir := range renamed {
			if strings.HasPrefix(p, dir+"/") {
				moved[dir] = append(moved[dir], p)
			}
		}
	}
	return moved
}

// applyOps has host apply ops in order and calls each with every batch of
// results as they arrive.
func applyOps(ctx context.Context, c *broker.Client, session, host string, ops []wire.Op, each func([]wire.OpResult) error) error {
	s, err := c.Call(ctx, host, &wire.Apply{Session: session, Ops: ops}, nil)
	if err != nil {
		return wire.ToError("apply", host, "", err)
	}
	defer s.Close()
	for {
		in, err := s.Recv(ctx)
		if err != nil {
			return wire.ToError("apply", host, "", err)
		}
		m, ok := in.Msg.(*wire.Applied)
		if !ok {
			return fmt.Errorf("apply on %s: unexpected reply %s", host, in.Type)
		}
		if err := each(m.Results); err != nil {
			return err
		}
		if m.Done {
			return nil
		}
	}
}

// applied records one batch of results: successful paths join the index
// for host, failures go to the status.
func (r *run) applied(host string, results []wire.OpResult, moved map[string][]string) error {
	var ok []store.HostPath
	var files, bytes int64
	for _, res := range results {
		if res.Error != nil {
			e := *res.Error
			e.Host = host
			r.addError(e)
			if res.Kind == wire.OpFetch {
				files++
			}
			continue
		}
		if res.Kind == wire.OpFetch {
			files++
			bytes += res.Bytes
		}
		if res.Kind != wire.OpDelete {
			ok = append(ok, store.HostPath{Host: host, Path: res.Path})
		}
		if res.Kind == wire.OpRename {
			for _, p := range moved[res.Path] {
				ok = append(ok, store.HostPath{Host: host, Path: p})
			}
		}
	}
	r.update(func(st *api.SessionStatus) { st.Files.Done += files })
	r.mu.Lock()
	r.confirmed += bytes
	r.mu.Unlock()
	_, err := r.h.db.AddIndexHosts(r.cfg.Name, ok)
	return err
}

// recordConflicts writes the start-up's new and settled quarantines to the
// session's event log in one transaction, so the console's log shows when
// each path entered and left the File Conflict List.
func (r *run) recordConflicts(plan conflict.Plan) {
	if len(plan.Quarantines) == 0 && len(plan.Released) == 0 {
		return
	}
	evs := make([]store.Event, 0, len(plan.Quarantines)+len(plan.Released))
	for _, q := range plan.Quarantines {
		msg := string(q.Reason)
		if q.Detail != "" {
			msg += ": " + q.Detail
		}
		evs = append(evs, store.Event{Kind: "conflict", Path: q.Path, Msg: msg})
	}
	for _, p := range plan.Released {
		evs = append(evs, store.Event{Kind: "conflict-settled", Path: p, Msg: "the hosts' copies agree again"})
	}
	r.events.add(evs...)
}

// drainLive drops the live messages queued for a loop that is not running.
func (r *run) drainLive() {
	for n := 0; ; n++ {
		select {
		case <-r.liveIn:
		default:
			if n > 0 {
				r.log.Info().Int("messages", n).Msg("dropped live messages queued before the start-up: its scan covers them")
			}
			return
		}
	}
}
