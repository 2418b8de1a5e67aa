package hub

import (
	"fmt"
	"maps"
	"slices"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// mergeCatchUp merges the scan of host, back, with the index the live
// hosts kept current, in the live loop (so no live change comes between
// the index it reads and the one it writes), and returns the round's
// plan. It reuses the start-up's merge: the engine gets, as a session
// start does, every participant's copies (the live hosts' as the index
// lists them, the returning host's as scanned) and the last synchronised
// state (the index, where the host's ledger says what it held before the
// others changed it), so what changed only elsewhere is fetched, what
// changed only on the host goes out, and what changed on both is decided
// by the session's conflict rules exactly as at a start.
func (r *run) mergeCatchUp(host string, cu *catchUp, scan []wire.Entry, skipped map[string]bool, writing []string) *conflict.Plan {
	cu.round++
	r.h.metrics.CatchUpScanned(r.cfg.Name, host, false, len(scan))
	r.event("catch-up-scan", host, "", fmt.Sprintf("%s: full catch-up: scanned %d paths (its whole root)", host, len(scan)))
	current, err := r.h.db.LoadIndex(r.cfg.Name)
	if err != nil {
		r.log.Error().Err(err).Msg("catch-up: load the index")
		return &conflict.Plan{}
	}
	ledger, err := r.h.db.AwayLedger(r.cfg.Name, host)
	if err != nil {
		r.log.Error().Err(err).Msg("catch-up: away ledger")
		return &conflict.Plan{}
	}
	return r.mergeRound(host, cu, scan, skipped, writing, current, ledger, nil)
}

// mergeRound is a catch-up round's merge of host's scan (with the files
// open for writing there) with current (the index, or the part of it the
// scan covered) and host's ledger (as much of it); total, when set, counts
// the session's tracked files for the breaker (current being only part of
// the index).
func (r *run) mergeRound(host string, cu *catchUp, scan []wire.Entry, skipped map[string]bool, writing []string, current map[string]conflict.Record,
	ledger map[string]store.AwayBase, total func() (int, error)) *conflict.Plan {
	fresh := cu.fresh
	if fresh {
		// Its root was reset (rootid.go): merged as at a first start,
		// with no last state, so none of its copies, and none missing
		// from it, counts as deleted.
		ledger = nil
	}
	participants := r.liveHosts()
	participants = append(participants, host)
	slices.SortFunc(participants, func(a, b string) int { return r.hostOrder(a) - r.hostOrder(b) })
	cu.seen = map[string]uint64{}
	for _, h := range participants {
		cu.seen[h] = r.seen.get(h)
	}
	leftAlone, held := r.catchUpLeftAlone(skipped)
	// Deleted while it was away, and unchanged on it: deleted there too.
	deleted, only := awayDeleted(host, ledger, current)
	delOps, settled := conflict.AwayDeletes(scan, deleted, r.cfg.Options)
	mine := slices.DeleteFunc(slices.Clone(scan), func(e wire.Entry) bool { return settled[e.Path] })

	scans := r.liveCopies(host, mine, current, participants)
	last := maps.Clone(current)
	for p, b := range ledger {
		switch {
		case settled[p] || !b.Had || only[p]:
			delete(last, p)
		default:
			rec := b.Record
			rec.Hosts = slices.DeleteFunc(slices.Clone(rec.Hosts), func(h string) bool { return !slices.Contains(participants, h) })
			last[p] = rec
		}
	}
	if fresh {
		last = map[string]conflict.Record{}
	}
	// The breaker counts a held path the host lacks as deleted there: a
	// few paths more, never fewer.
	if err := r.breakScansOf(map[string][]wire.Entry{host: mine}, last, leftAlone, true, total); err != nil {
		r.log.Error().Err(err).Msg("catch-up: breaker")
		return &conflict.Plan{}
	}
	// The live hosts' writers are in the lock table (sparedWriters); the
	// returning host's, not yet served, in its scan.
	plan := r.resolveFor(conflict.Input{Hosts: participants, Scans: scans, Writing: map[string][]string{host: writing}, Last: last,
		Quarantined: leftAlone, Held: held})
	if len(delOps) > 0 {
		plan.Ops[host] = append(plan.Ops[host], delOps...)
	}
	keepAwayHosts(plan, current, participants)
	r.sparedWriters(host, cu, plan, current, scan)
	for p := range held {
		// The engine left it alone: its record stays as the live loop
		// keeps it.
		if rec, ok := current[p]; ok {
			plan.Index[p] = rec
		}
		have := scanned(scan, p)
		if rec, ok := current[p]; ok && slices.Contains(rec.Hosts, host) && conflict.SameVersion(have, &rec.Entry) {
			// It holds the index's version: the reference the others'
			// repair fetches from, not one more host behind (make chaos,
			// seed 3311: the source of a change whose fetches failed as
			// its link was cut came back lagging too, and with no host
			// left to repair from, the others never got the change).
			continue
		}
		cu.lagAt[p] = have
	}
	if err := r.storeCatchUp(host, plan, current, leftAlone, participants); err != nil {
		r.log.Error().Err(err).Msg("catch-up: store the merge")
		return &conflict.Plan{}
	}
	r.moveRenamedLags(cu, plan)
	// Merged: its root is the session's from now on.
	r.recordRoot(host, cu.record)
	cu.record, cu.fresh = nil, false
	for h, ops := range plan.Ops {
		cu.ops += len(ops)
		if e := r.log.Debug(); e.Enabled() {
			for _, op := range ops {
				r.log.Debug().Str("host", host).Int("round", cu.round).Str("to", h).Stringer("op", op.Kind).Str("path", op.Path).Str("from", op.From).Msg("catch-up op")
			}
		}
	}
	r.log.Info().Str("host", host).Int("round", cu.round).Int("ledger", len(ledger)).Int("scanned", len(scan)).
		Int("to_host", len(plan.Ops[host])).Int("quarantined", len(plan.Quarantines)).Msg("catch-up merged")
	return &plan
}

// liveCopies returns the copies the merge takes each participant to
// hold: the returning host's scan (mine), and the live hosts' as the index
// lists them, but where a live host lags, the copy the hub left there (its
// lag's): the index does not list it there, and a folder it lags on left
// out of its copies would make what is below it a malformed scan, left
// alone with the folder (make chaos, seed 5122).
func (r *run) liveCopies(host string, mine []wire.Entry, current map[string]conflict.Record, participants []string) map[string][]wire.Entry {
	scans := map[string][]wire.Entry{host: mine}
	live := func(h string) bool { return h != host && slices.Contains(participants, h) }
	for _, rec := range current { // map order: the engine sorts each scan
		lags := r.lags[rec.Entry.Path]
		for _, h := range rec.Hosts {
			if live(h) && lags[h] == nil {
				scans[h] = append(scans[h], rec.Entry)
			}
		}
	}
	for p, m := range r.lags {
		if _, in := current[p]; !in && wire.Parent(p) != "" {
			if _, in := current[wire.Parent(p)]; !in {
				continue // outside what a partial merge reads
			}
		}
		for h, l := range m {
			if live(h) && l.have != nil && l.have.Path == p {
				scans[h] = append(scans[h], *l.have)
			}
		}
	}
	return scans
}

// moveRenamedLags moves the lags at and below each folder the plan
// renames (an offline rename, detected on one host, carried out on the
// others), as a live rename moves them with the index's records
// (moveLags): once the round's ops are done every participant holds the
// folder at its new path, where the index now has its records and the
// repair looks for the lagging copies. The returning host's lags
// (cu.lagAt, left from an earlier round) go with them; left at the old
// path, a lag would find no record there and the renamed file would never
// be repaired.
func (r *run) moveRenamedLags(cu *catchUp, plan conflict.Plan) {
	moved := map[string]bool{}
	for _, ops := range plan.Ops {
		for _, op := range ops {
			if op.Kind != wire.OpRename || moved[op.OldPath] {
				continue
			}
			moved[op.OldPath] = true
			r.moveLags(op.OldPath, op.Path)
			cu.lagAt = movedCopies(cu.lagAt, op.OldPath, op.Path)
		}
	}
}

// movedCopies returns copies with the paths at and below from moved to
// to, each copy named at its new path.
func movedCopies(copies map[string]*wire.Entry, from, to string) map[string]*wire.Entry {
	out := make(map[string]*wire.Entry, len(copies))
	for p, have := range copies {
		np, ok := wire.Moved(p, from, to)
		if !ok {
			out[p] = have
			continue
		}
		if have != nil {
			e := *have
			e.Path = np
			have = &e
		}
		out[np] = have
	}
	return out
}

// awayDeleted returns the paths of host's ledger that the live hosts
// deleted (or moved away) while it was away, with the version it held, and
// those it alone ever held: whoever deleted or moved such a path never saw
// that version, so the deletion does not take it, and its copy goes out as
// new, as an edit wins over an offline delete (make chaos, seed 5533: a
// file written on a host just before it went down was deleted there on
// its return, its folder having been renamed elsewhere meanwhile, and no
// host held that version any more).
func awayDeleted(host string, ledger map[string]store.AwayBase, current map[string]conflict.Record) (deleted map[string]wire.Entry, only map[string]bool) {
	deleted, only = map[string]wire.Entry{}, map[string]bool{}
	for p, b := range ledger {
		if _, still := current[p]; still || !b.Had || !slices.Contains(b.Record.Hosts, host) {
			continue
		}
		if len(b.Record.Hosts) == 1 {
			only[p] = true
			continue
		}
		deleted[p] = b.Record.Entry
	}
	return deleted, only
}

// catchUpLeftAlone returns what a catch-up leaves alone: with what is
// below them, the File Conflict List and what the returning host could not
// read; and, held, the paths a live host lags on (the repair's), each
// alone: a folder a host lags on (a mode change or a removal that failed
// there) does not keep what is below it out of the merge, which would
// neither send the returning host's changes there nor bring it the
// others' (make chaos, seed 5122).
func (r *run) catchUpLeftAlone(skipped map[string]bool) (leftAlone, held map[string]bool) {
	leftAlone = maps.Clone(skipped)
	r.mu.Lock()
	for p := range r.quarantine {
		leftAlone[p] = true
	}
	r.mu.Unlock()
	held = make(map[string]bool, len(r.lags))
	for p := range r.lags {
		held[p] = true
	}
	return leftAlone, held
}

// sparedWriters keeps a round's plan off the files open for writing on a
// live host: the returning host may fetch such a file (its lock is taken
// there once it holds its copy, see goLive), but nothing goes to a live
// host, whose writer's close decides; where the plan would send
// something, the path is left as it is, and the returning host lags on it
// with its own copy, which the close's propagation replaces.
func (r *run) sparedWriters(host string, cu *catchUp, plan conflict.Plan, current map[string]conflict.Record, scan []wire.Entry) {
	spare := map[string]bool{}
	for p, l := range r.locks {
		if l.source == host {
			// The returning host's own writer, whose lock is held for
			// the grace period: its copy is the one to send, not one to
			// lag on (make chaos, seed 5436: it lagged on its own save,
			// and no host was left to repair the others from).
			continue
		}
		for h, ops := range plan.Ops {
			if h != host && slices.ContainsFunc(ops, func(op wire.Op) bool { return op.Path == p }) {
				spare[p] = true
			}
		}
	}
	if len(spare) == 0 {
		return
	}
	for h, ops := range plan.Ops {
		plan.Ops[h] = slices.DeleteFunc(ops, func(op wire.Op) bool { return spare[op.Path] })
	}
	for p := range spare {
		if rec, ok := current[p]; ok {
			plan.Index[p] = rec
		} else {
			delete(plan.Index, p)
		}
		cu.lagAt[p] = scanned(scan, p)
	}
}

// keepAwayHosts lists again, in the plan's records, the other hosts still
// away that held a path's unchanged state: the plan knows only its
// participants, and their ledgers would otherwise count every path. A
// path that only hosts away hold, which no participant held either, and
// which the plan does not touch, keeps its record as it is: the merge knew
// nothing of it, and dropping the record would tell those hosts' ledgers
// it was deleted elsewhere, which their return would carry out.
func keepAwayHosts(plan conflict.Plan, current map[string]conflict.Record, participants []string) {
	touched := map[string]bool{}
	for _, ops := range plan.Ops {
		for _, op := range ops {
			touched[op.Path] = true
			if op.OldPath != "" {
				touched[op.OldPath] = true
			}
		}
	}
	for p, old := range current {
		rec, ok := plan.Index[p]
		if !ok {
			if !touched[p] && !slices.ContainsFunc(old.Hosts, func(h string) bool { return slices.Contains(participants, h) }) {
				plan.Index[p] = old
			}
			continue
		}
		if old.Entry != rec.Entry {
			continue
		}
		for _, h := range old.Hosts {
			if !slices.Contains(participants, h) && !slices.Contains(rec.Hosts, h) {
				rec.Hosts = append(rec.Hosts, h)
			}
		}
		plan.Index[p] = rec
	}
}

// storeCatchUp records the merge: the index and the File Conflict List as
// the start-up's merge records them, and the host's ledger, which from now
// on holds, for each op to the host, what the host holds until the op
// lands (so a round cut short loses nothing), and what changes elsewhere
// from here on.
func (r *run) storeCatchUp(host string, plan conflict.Plan, current map[string]conflict.Record, leftAlone map[string]bool,
	participants []string) error {
	if _, _, err := r.storeIndex(plan, current, leftAlone); err != nil {
		return err
	}
	// After the index: its writes are the merge's, not changes elsewhere.
	bases := map[string]store.AwayBase{}
	for _, op := range plan.Ops[host] {
		b := store.AwayBase{}
		if op.Have != nil && op.Kind != wire.OpRename {
			b = store.AwayBase{Had: true, Record: recordOf(*op.Have, participants)}
		}
		bases[op.Path] = b
	}
	if err := r.h.db.ResetAway(r.cfg.Name, host, bases); err != nil {
		return err
	}
	if err := r.storeQuarantines(plan); err != nil {
		return err
	}
	r.recordConflicts(plan)
	if len(plan.Quarantines) > 0 || len(plan.Released) > 0 {
		r.update(func(st *api.SessionStatus) {
			for _, q := range plan.Quarantines {
				if !r.quarantine[q.Path] {
					r.quarantine[q.Path] = true
					st.Quarantined++
				}
			}
			for _, p := range plan.Released {
				if r.quarantine[p] {
					delete(r.quarantine, p)
					st.Quarantined--
				}
			}
		})
		r.h.notify(api.NoticeConflicts, r.cfg.Name)
	}
	for _, w := range plan.Warnings {
		r.log.Warn().Str("host", host).Msg(w)
	}
	return nil
}

// scanned returns the entry of a scan at p, nil if it has none.
func scanned(scan []wire.Entry, p string) *wire.Entry {
	for i := range scan {
		if scan[i].Path == p {
			e := scan[i]
			return &e
		}
	}
	return nil
}

// hostOrder returns host's place in the session's configuration: the
// engine's last tie-break.
func (r *run) hostOrder(host string) int {
	for i, hr := range r.cfg.Hosts {
		if hr.Host == host {
			return i
		}
	}
	return len(r.cfg.Hosts)
}
