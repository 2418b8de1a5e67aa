package hub

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// The mass-delete breaker (issue 14). A root that turns up empty (an
// unmounted share, a mistyped mount), or one host deleting more of a
// session's files at once than the session's guard allows, must not
// delete them on every other host. Such a host's deletions are held: kept
// in hub.db (store/held.go), left alone by every later merge, deleted
// nowhere, and listed in the session's status until an operator approves
// them (they are deleted everywhere, breaker_act.go) or discards them (the
// files are brought back to that host). Everything else goes on: the
// host's other changes and every other host's propagate as usual.
//
// Where deletions come from: a start's or a catch-up's scan (breakScans,
// before the engine plans) and the live loop's batches of removes
// (breakLive, before they are decided). A live burst is counted over
// burstWindow: removes that a host reports less than that apart add up.

func defaultGuard(cfg *api.SessionConfig) {
	if cfg.DeleteGuardPercent == 0 {
		cfg.DeleteGuardPercent = api.DefaultDeleteGuardPercent
	}
	if cfg.DeleteGuardMin == 0 {
		cfg.DeleteGuardMin = api.DefaultDeleteGuardMin
	}
}

func (r *run) guard() conflict.Guard {
	cfg := r.cfg
	defaultGuard(&cfg)
	return conflict.Guard{Percent: cfg.DeleteGuardPercent, Min: cfg.DeleteGuardMin}
}

// loadHeld reads the session's held deletions into the run, for the
// merges and the live loop that follow; the supervisor calls it through
// breakScans before every start's merge.
func (r *run) loadHeld() error {
	hosts, err := r.h.db.HeldHosts(r.cfg.Name)
	if err != nil {
		return err
	}
	r.held = map[string]map[string]wire.Entry{}
	for host := range hosts {
		paths, err := r.h.db.HeldDeletions(r.cfg.Name, host)
		if err != nil {
			return err
		}
		r.held[host] = paths
	}
	return nil
}

// breakScans holds, before a merge, what scanned hosts deleted against
// last beyond the session's guard, and adds every held path to leftAlone,
// so that the engine neither deletes it anywhere nor brings it back. A
// host whose deletions are held already has every new one held too.
func (r *run) breakScans(scans map[string][]wire.Entry, last map[string]conflict.Record, leftAlone map[string]bool, loaded bool) error {
	return r.breakScansOf(scans, last, leftAlone, loaded, nil)
}

// breakScansOf is breakScans where total, when set, counts the session's
// tracked files: last is then only the part of the index a partial
// catch-up merges (catchup_partial.go), which says nothing of the
// session's size nor of an emptied root (the journal would say
// "everything" for a root that vanished). total is called only when
// enough files are deleted to trip the guard.
func (r *run) breakScansOf(scans map[string][]wire.Entry, last map[string]conflict.Record, leftAlone map[string]bool, loaded bool,
	total func() (int, error)) error {
	tracked := 0
	if total == nil {
		tracked = conflict.TrackedFiles(last)
	}
	hosts := slices.Collect(maps.Keys(scans))
	return r.breakHosts(hosts, tracked, leftAlone, loaded, total, func(host string, skip func(string) bool) (map[string]wire.Entry, int, bool) {
		deleted, files := conflict.ScanDeletes(host, scans[host], last, skip)
		return deleted, files, total == nil && len(scans[host]) == 0 && conflict.HeldFiles(host, last) > 0
	})
}

// breakSpools is breakScans for the scans of a start-up's compact merge
// (startup_merge.go) and the last index in tree order.
func (r *run) breakSpools(spools map[string]*spool, last []conflict.Record, leftAlone map[string]bool) error {
	hosts := slices.Collect(maps.Keys(spools))
	return r.breakHosts(hosts, conflict.TrackedFilesIn(last), leftAlone, false, nil, func(host string, skip func(string) bool) (map[string]wire.Entry, int, bool) {
		deleted, files := conflict.StreamDeletes(host, spools[host], last, skip)
		return deleted, files, spools[host].n == 0 && conflict.HeldFilesIn(host, last) > 0
	})
}

// breakHosts holds the deletions of each host that trip the guard:
// deletes returns what host deleted, how many of those are files, and
// whether its root turned up empty.
func (r *run) breakHosts(hosts []string, tracked int, leftAlone map[string]bool, loaded bool, total func() (int, error),
	deletes func(host string, skip func(string) bool) (map[string]wire.Entry, int, bool)) error {
	if !loaded {
		if err := r.loadHeld(); err != nil {
			return err
		}
	}
	for _, host := range hosts {
		if r.absent[host] {
			continue
		}
		deleted, files, empty := deletes(host, func(p string) bool { return conflict.UnderAny(p, leftAlone) })
		if len(deleted) == 0 {
			continue
		}
		n := tracked
		if total != nil && files >= r.guard().Min {
			var err error
			if n, err = total(); err != nil {
				return err
			}
		}
		reason, trip := r.guard().Trip(files, n, empty)
		if r.held[host] != nil {
			trip = true
			if reason == "" {
				reason = conflict.HeldMassDelete
			}
		}
		if !trip {
			continue
		}
		if err := r.hold(host, reason, deleted, files, n); err != nil {
			return err
		}
	}
	for _, paths := range r.held {
		for p := range paths {
			leftAlone[p] = true
		}
	}
	return nil
}

// breakLive returns batch without host's removes that the breaker holds:
// those of paths already held, all of them once host's deletions are
// held, and those of a burst that trips the guard. The hub reads the
// index the decision needs; conflict decides.
func (r *run) breakLive(host string, batch []wire.Change) []wire.Change {
	removes := conflict.LiveRemoves(batch, r.quarantined)
	if len(removes) == 0 {
		return batch
	}
	deleted := map[string]wire.Entry{}
	files := 0
	for _, i := range removes {
		n, err := r.indexedBelow(host, batch[i].Path, deleted)
		if err != nil {
			r.log.Error().Err(err).Msg("breaker: index")
			return batch
		}
		files += n
	}
	if r.burst == nil {
		r.burst = map[string]conflict.Burst{}
	}
	b := r.burst[host].Add(files, time.Now())
	r.burst[host] = b
	g, held := r.guard(), r.held[host] != nil
	total := 0
	if !held && g.Reached(b.Files) {
		var err error
		if total, err = r.trackedFiles(); err != nil {
			r.log.Error().Err(err).Msg("breaker: index")
			return batch
		}
	}
	reason, trip := g.BurstTrip(b, held, total)
	if !trip || len(deleted) == 0 {
		return batch
	}
	if held {
		total, _ = r.trackedFiles()
	}
	if err := r.hold(host, reason, deleted, files, total); err != nil {
		// Unable to record the hold, the hub keeps the deletions from
		// propagating anyway: losing them is safer than losing the files.
		r.log.Error().Err(err).Msg("breaker: hold")
	}
	return conflict.WithoutHeld(batch, r.heldSet(host))
}

// indexedBelow adds to deleted what the index says host holds at p and
// below it, and returns how many files that is.
func (r *run) indexedBelow(host, p string, deleted map[string]wire.Entry) (int, error) {
	files := 0
	add := func(rec conflict.Record) {
		for _, h := range rec.Hosts {
			if h == host {
				deleted[rec.Entry.Path] = rec.Entry
				if rec.Entry.Kind == wire.KindFile {
					files++
				}
				return
			}
		}
	}
	rec, ok, err := r.h.db.Index(r.cfg.Name, p)
	if err != nil || !ok {
		return 0, err
	}
	add(rec)
	if rec.Entry.Kind == wire.KindDir {
		err = r.h.db.ForEachIndex(r.cfg.Name, p+"/", func(rec conflict.Record) error {
			add(rec)
			return nil
		})
	}
	return files, err
}

// trackedFiles counts the files the session's index tracks.
func (r *run) trackedFiles() (int, error) {
	n := 0
	err := r.h.db.ForEachIndex(r.cfg.Name, "", func(rec conflict.Record) error {
		if rec.Entry.Kind == wire.KindFile {
			n++
		}
		return nil
	})
	return n, err
}

// heldSet returns host's held paths as a set for underAny.
func (r *run) heldSet(host string) map[string]bool {
	out := make(map[string]bool, len(r.held[host]))
	for p := range r.held[host] {
		out[p] = true
	}
	return out
}

// hold records host's deletions as held, says so in the event log and the
// log, and tells the console.
func (r *run) hold(host, reason string, deleted map[string]wire.Entry, files, total int) error {
	meta, err := r.h.db.HoldDeletions(r.cfg.Name, host, store.Held{Since: time.Now(), Reason: reason}, deleted)
	if err != nil {
		return err
	}
	if r.held == nil {
		r.held = map[string]map[string]wire.Entry{}
	}
	if r.held[host] == nil {
		r.held[host] = map[string]wire.Entry{}
	}
	for p, e := range deleted {
		r.held[host][p] = e
	}
	why := fmt.Sprintf("%s deleted %d of the session's %d files at once", host, files, total)
	if reason == conflict.HeldEmptyRoot {
		why = fmt.Sprintf("%s's root is empty (an unmounted share or a wrong folder?) while it held %d of the session's files", host, files)
	}
	r.event("deletions-held", host, "", fmt.Sprintf("%s: %d paths held, deleted nowhere else (%d held in all); approve or discard them: peerlink session deletions %s --host %s --approve|--discard",
		why, len(deleted), meta.Paths, r.cfg.Name, host))
	r.log.Warn().Str("host", host).Str("reason", reason).Int("paths", len(deleted)).Int("files", files).Int("tracked", total).Msg("deletions held")
	r.h.notify(api.NoticeSessions, r.cfg.Name)
	return nil
}

// heldStatus lists the session's held deletions for its status.
func (h *Hub) heldStatus(name string, st *api.SessionStatus) {
	hosts, err := h.db.HeldHosts(name)
	if err != nil {
		h.log.Error().Err(err).Msg("held deletions")
		return
	}
	for host, m := range hosts {
		st.HeldDeletions = append(st.HeldDeletions, api.HeldDeletions{Host: host, Paths: m.Paths, Files: m.Files, Since: m.Since, Reason: m.Reason})
	}
	slices.SortFunc(st.HeldDeletions, func(a, b api.HeldDeletions) int { return strings.Compare(a.Host, b.Host) })
}
