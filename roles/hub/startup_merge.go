package hub

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// merge resolves the scans against the last index and records the new
// index before anything moves: a record lists only the hosts that already
// hold its state, and each host is added as its transfer completes, so a
// crash in between leaves an index that is true. It closes the spools.
func (r *run) merge(spools map[string]*spool, skipped map[string]bool, writing map[string][]string) (conflict.Plan, error) {
	defer closeSpools(slices.Collect(maps.Values(spools))...)
	compact, err := r.compactMerge()
	if err != nil {
		return conflict.Plan{}, err
	}
	if compact {
		return r.mergeCompact(spools, skipped, writing)
	}
	scans := make(map[string][]wire.Entry, len(spools))
	for h, s := range spools {
		if scans[h], err = s.all(); err != nil {
			return conflict.Plan{}, err
		}
	}
	return r.mergeScans(scans, skipped, writing)
}

// compactMerge says whether the start-up merges streaming (mergeCompact):
// unless some host is away or back from being away, whose ledgers change
// how the index judges it (startup_away.go), or the session has more
// hosts than a compact index holds.
func (r *run) compactMerge() (bool, error) {
	if len(r.absent) > 0 || len(r.participants()) > 64 {
		return false, nil
	}
	marked, err := r.h.db.AwayHosts(r.cfg.Name)
	return len(marked) == 0, err
}

// mergeCompact is mergeScans with nothing proportional to hosts × paths
// in memory (issue 13, point 5): the scans stay in their spools, the last
// index is one sorted slice the engine reads in place, and the plan's
// index is compact (conflict.Index). No host is away (compactMerge).
func (r *run) mergeCompact(spools map[string]*spool, skipped map[string]bool, writing map[string][]string) (conflict.Plan, error) {
	last, err := r.h.db.LoadIndexSorted(r.cfg.Name)
	if err != nil {
		return conflict.Plan{}, err
	}
	qs, quarantined, leftAlone, err := r.leftAlone(skipped)
	if err != nil {
		return conflict.Plan{}, err
	}
	judged := last
	if r.freshStart {
		judged = nil // as in mergeScans
	}
	for _, s := range spools {
		s.known = last // its strings, whatever the merge judges against
	}
	if err := r.breakSpools(spools, judged, leftAlone); err != nil {
		return conflict.Plan{}, err
	}
	streams := make(map[string]conflict.Stream, len(spools))
	for h, s := range spools {
		streams[h] = s
	}
	plan := r.resolveFor(conflict.Input{Hosts: r.participants(), Streams: streams, Sorted: judged, Compact: true,
		Writing: writing, Quarantined: leftAlone})
	for h, s := range spools {
		if s.err != nil {
			return conflict.Plan{}, fmt.Errorf("merge %s's scan: %w", h, s.err)
		}
	}
	changed, gone, err := r.storeTable(plan, last, leftAlone)
	if err != nil {
		return conflict.Plan{}, err
	}
	return plan, r.merged(plan, qs, quarantined, changed, gone)
}

// holdMergeMemory sets the hub's memory limit for a streaming merge of
// spools (memory.go) until the returned function is called. A merge with
// its scans in memory (compactMerge) holds several times more a path and
// runs without one.
func (r *run) holdMergeMemory(spools map[string]*spool) (func(), error) {
	compact, err := r.compactMerge()
	if err != nil || !compact {
		return func() {}, err
	}
	paths, err := r.h.db.IndexSize(r.cfg.Name)
	if err != nil {
		return func() {}, err
	}
	for _, s := range spools {
		paths = max(paths, s.n)
	}
	return r.h.mergeMem.hold(mergeBudget(paths, len(spools))), nil
}

// leftAlone returns the stored quarantines, their paths, and what the
// start-up leaves alone: those and the paths skipped, for this start only.
func (r *run) leftAlone(skipped map[string]bool) ([]store.Quarantine, map[string]bool, map[string]bool, error) {
	qs, err := r.h.db.Quarantines(r.cfg.Name)
	if err != nil {
		return nil, nil, nil, err
	}
	quarantined := make(map[string]bool, len(qs))
	for _, q := range qs {
		quarantined[q.Path] = true
	}
	leftAlone := make(map[string]bool, len(quarantined)+len(skipped))
	for p := range quarantined {
		leftAlone[p] = true
	}
	for p := range skipped {
		leftAlone[p] = true
	}
	return qs, quarantined, leftAlone, nil
}

// mergeScans is the start-up's merge with the scans in memory, where a
// host is away or back from being away.
func (r *run) mergeScans(scans map[string][]wire.Entry, skipped map[string]bool, writing map[string][]string) (conflict.Plan, error) {
	last, err := r.h.db.LoadIndex(r.cfg.Name)
	if err != nil {
		return conflict.Plan{}, err
	}
	qs, quarantined, leftAlone, err := r.leftAlone(skipped)
	if err != nil {
		return conflict.Plan{}, err
	}
	// The hosts back from being away are judged against what they held
	// when they left; those still away keep their ledger (startup_away.go).
	judged, err := r.awayBases(last)
	if err != nil {
		return conflict.Plan{}, err
	}
	if r.freshStart {
		// Every host merged was reset (rootid.go): as at a first start,
		// no copy counts as deleted.
		judged = map[string]conflict.Record{}
	}
	// The mass-delete breaker holds what a host deleted beyond the
	// session's guard, and every path held before (breaker.go).
	if err := r.breakScans(scans, judged, leftAlone, false); err != nil {
		return conflict.Plan{}, err
	}
	plan := r.resolveFor(conflict.Input{Hosts: r.participants(), Scans: scans, Writing: writing, Last: judged, Quarantined: leftAlone})
	if len(r.absent) > 0 {
		keepAwayHosts(plan, last, r.participants())
	}
	changed, gone, err := r.storeIndex(plan, last, leftAlone)
	if err != nil {
		return conflict.Plan{}, err
	}
	return plan, r.merged(plan, qs, quarantined, changed, gone)
}

// merged records a start-up's plan beside its index: the quarantines it
// adds and releases, the event log, the status.
func (r *run) merged(plan conflict.Plan, qs []store.Quarantine, quarantined map[string]bool, changed, gone int) error {
	if err := r.storeQuarantines(plan); err != nil {
		return err
	}
	r.recordConflicts(plan)
	r.mergedStatus(plan, len(qs), quarantined)
	r.h.notify(api.NoticeConflicts, r.cfg.Name)
	r.log.Info().Int("paths", plan.IndexLen()).Int("index_changed", changed).Int("index_gone", gone).
		Int64("files", plan.Files).Int64("bytes", plan.Bytes).Int("quarantined", len(plan.Quarantines)).Msg("merged")
	return nil
}

// resolveFor plans in's hosts, all of the session's at a start or the live
// ones and a returning host at its catch-up (catchup.go), by the session's
// rules, from in's scans, writing (the files each scanned host had open
// for writing), last index and paths left alone.
func (r *run) resolveFor(in conflict.Input) conflict.Plan {
	// Offline Delete Detection acts only "if this option is enabled and
	// target protection is enabled" (the seed): without protection, what
	// was deleted offline is brought back.
	opt, optWarn := r.cfg.Options, ""
	if opt.OfflineDeleteDetection && r.cfg.TargetProtection != nil && !*r.cfg.TargetProtection {
		opt.OfflineDeleteDetection = false
		optWarn = "offline delete detection is inactive because target protection is off: paths deleted while the session was stopped are brought back (turn protection on with `peerlink session set " + r.cfg.Name + " --target-protection=true`)"
	}
	in.Options, in.Clocks = opt, r.clockInput()
	plan := conflict.Resolve(in)
	if optWarn != "" {
		plan.Warnings = append([]string{optWarn}, plan.Warnings...)
	}
	return plan
}

// storeTable is storeIndex for a compact plan and the last index in tree
// order: one walk over both. What changed is listed by its place in the
// plan's table, 4 bytes a record rather than a path's 16 (at a first
// start, every record).
func (r *run) storeTable(plan conflict.Plan, last []conflict.Record, leftAlone map[string]bool) (int, int, error) {
	deleting := deletedPaths(plan.Ops)
	var changed []int32
	var gone []string
	drop := func(rec *conflict.Record) {
		if p := rec.Entry.Path; !conflict.UnderAny(p, leftAlone) && !conflict.UnderAny(p, deleting) {
			gone = append(gone, p)
		}
	}
	table, i := plan.Table, 0
	for at := range table.Len() {
		rec := table.At(at)
		p := rec.Entry.Path
		for ; i < len(last) && conflict.ComparePaths(last[i].Entry.Path, p) < 0; i++ {
			drop(&last[i])
		}
		if i < len(last) && last[i].Entry.Path == p {
			if !sameRecord(last[i], rec) {
				changed = append(changed, int32(at))
			}
			i++
			continue
		}
		changed = append(changed, int32(at))
	}
	for ; i < len(last); i++ {
		drop(&last[i])
	}
	// bbolt's order, the paths' bytes, where it differs from the tree's.
	byPath := func(a, b int32) int { return strings.Compare(table.Path(int(a)), table.Path(int(b))) }
	if !slices.IsSortedFunc(changed, byPath) {
		slices.SortStableFunc(changed, byPath)
	}
	err := r.h.db.PutIndexRecords(r.cfg.Name, len(changed), func(i int) conflict.Record { return table.At(int(changed[i])) })
	if err != nil {
		return 0, 0, err
	}
	if err := r.h.db.DeleteIndex(r.cfg.Name, gone); err != nil {
		return 0, 0, err
	}
	return len(changed), len(gone), nil
}

// storeIndex records plan's index in place of last, and returns how many
// records it changed and dropped.
func (r *run) storeIndex(plan conflict.Plan, last map[string]conflict.Record, leftAlone map[string]bool) (int, int, error) {
	// The paths, not copies of their records: at a first start, every
	// record of the plan is written (PutIndexOf).
	var changed []string
	for p, rec := range plan.Index {
		if old, ok := last[p]; !ok || !sameRecord(old, rec) {
			changed = append(changed, p)
		}
	}
	// What the plan deletes keeps its record until every host's deletion
	// is done (forgetDeleted).
	deleting := deletedPaths(plan.Ops)
	var gone []string
	for p := range last {
		if _, ok := plan.Index[p]; !ok && !conflict.UnderAny(p, leftAlone) && !conflict.UnderAny(p, deleting) {
			gone = append(gone, p)
		}
	}
	if err := r.h.db.PutIndexOf(r.cfg.Name, changed, plan.Index); err != nil {
		return 0, 0, err
	}
	if err := r.h.db.DeleteIndex(r.cfg.Name, gone); err != nil {
		return 0, 0, err
	}
	return len(changed), len(gone), nil
}

// storeQuarantines records plan's new quarantines and drops those it
// released.
func (r *run) storeQuarantines(plan conflict.Plan) error {
	if len(plan.Quarantines) > 0 {
		add := make([]store.Quarantine, len(plan.Quarantines))
		for i, q := range plan.Quarantines {
			add[i] = store.Quarantine{Quarantine: q}
		}
		if err := r.h.db.PutQuarantines(r.cfg.Name, add); err != nil {
			return err
		}
	}
	if len(plan.Released) > 0 {
		if err := r.h.db.DeleteQuarantines(r.cfg.Name, plan.Released); err != nil {
			return err
		}
	}
	return nil
}

// mergedStatus sets the status's quarantine and warnings from plan, given
// the stored quarantines it started from (n of them, the paths in
// quarantined).
func (r *run) mergedStatus(plan conflict.Plan, n int, quarantined map[string]bool) {
	r.update(func(st *api.SessionStatus) {
		st.Quarantined = n + len(plan.Quarantines) - len(plan.Released)
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
