package conflict

import (
	"slices"
	"strings"

	"github.com/peerlink/peerlink/wire"
)

// A folder removed on one host while new content arrived in it from
// another (make chaos, seed 1: site-a saves a/f1.txt while site-b deletes
// the folder a). Carried as one removal of the folder, it would remove at
// every target the file the remover never had, and the copy the fetch
// then brought to the remover would be the only one left. As at a start
// (doc.go: "a folder that still holds a kept, new, edited or quarantined
// path is kept"), the edit wins: what the remover held below the folder
// is removed everywhere, in the largest parts that hold nothing else, and
// the folder stays with what it did not hold, which reaches the remover
// again by the repair of its lag (the agent refused the fetch into the
// folder its user had just removed: roles/agent/removed.go).

// LiveRemovedFolders returns the folders batch removes, as the index
// lists them: Live needs the records below each (LiveInput.Below).
func LiveRemovedFolders(batch []wire.Change, index map[string]Record) []string {
	var out []string
	for _, ch := range batch {
		if ch.Kind != wire.ChangeRemove {
			continue
		}
		if rec, ok := index[ch.Path]; ok && rec.Entry.Kind == wire.KindDir && !slices.Contains(out, ch.Path) {
			out = append(out, ch.Path)
		}
	}
	return out
}

// keepBelow returns in's batch with each folder removal that would take
// a record Host does not hold replaced by the removals of what it does
// hold (as above), the records of those paths added to in.Index, and the
// folder removals so replaced.
func keepBelow(in *LiveInput) (batch []wire.Change, kept []wire.Change) {
	for i, ch := range in.Batch {
		parts, ok := heldParts(in, ch)
		if !ok {
			if batch != nil {
				batch = append(batch, ch)
			}
			continue
		}
		if batch == nil {
			batch = slices.Clone(in.Batch[:i])
		}
		kept = append(kept, ch)
		for _, rec := range parts {
			in.Index[rec.Entry.Path] = rec
			batch = append(batch, wire.Change{Kind: wire.ChangeRemove, Path: rec.Entry.Path})
		}
	}
	if batch == nil {
		return in.Batch, nil
	}
	return batch, kept
}

// heldParts returns, for a folder removal that would take a record Host
// does not hold, the records of the largest parts below the folder that
// hold only what Host holds (ok false: the removal takes nothing else).
func heldParts(in *LiveInput, ch wire.Change) (parts []Record, ok bool) {
	if ch.Kind != wire.ChangeRemove {
		return nil, false
	}
	below := in.Below[ch.Path]
	keep := map[string]bool{} // what Host lacks, and the folders on the way to it
	for _, rec := range below {
		p := rec.Entry.Path
		if in.holds(rec) || keep[p] {
			continue
		}
		for ; p != ch.Path && !keep[p]; p = wire.Parent(p) {
			keep[p] = true
		}
		keep[ch.Path] = true
	}
	if !keep[ch.Path] {
		return nil, false
	}
	for _, rec := range below {
		p := rec.Entry.Path
		if !keep[p] && keep[wire.Parent(p)] {
			parts = append(parts, rec)
		}
	}
	slices.SortFunc(parts, func(x, y Record) int { return strings.Compare(x.Entry.Path, y.Entry.Path) })
	return parts, true
}

// holds says whether Host holds rec's copy as the index lists it: among
// its hosts, and not lagging there.
func (in *LiveInput) holds(rec Record) bool {
	if _, lags := in.Lagging[rec.Entry.Path][in.Host]; lags {
		return false
	}
	return slices.Contains(rec.Hosts, in.Host)
}
