package conflict

import (
	"strings"

	"github.com/peerlink/peerlink/wire"
)

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
func (b batchPaths) follow(done []LiveChange, st batchPath, ch wire.Change) bool {
	prev := &done[st.at].Change
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
// a path removed is gone; what was below a path renamed moves with it,
// and what the new path held is replaced (indexPath follows the same
// changes for the paths the batch did not touch).
func (b batchPaths) note(i int, ch wire.Change) {
	switch ch.Kind {
	case wire.ChangeRemove:
		b.forgetBelow(ch.Path)
		b[ch.Path] = batchPath{at: i, gone: true}
	case wire.ChangeRename:
		b.forgetBelow(ch.Path)
		for k, st := range b {
			if strings.HasPrefix(k, ch.OldPath+"/") {
				delete(b, k)
				if !st.gone {
					st.entry.Path = ch.Path + k[len(ch.OldPath):]
				}
				b[ch.Path+k[len(ch.OldPath):]] = st
			}
		}
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

// indexPath returns where the index, written before the batch, holds what
// the targets hold at p after done, a batch's changes so far, for a path
// the batch did not touch, or a folder whose names are looked up: below a folder renamed, its old path; below a
// folder removed or renamed away, nothing (false).
func indexPath(done []LiveChange, p string) (string, bool) {
	for i := len(done) - 1; i >= 0; i-- {
		ch := done[i].Change
		switch ch.Kind {
		case wire.ChangeRemove:
			if atOrBelow(p, ch.Path) {
				return "", false
			}
		case wire.ChangeRename:
			if atOrBelow(p, ch.Path) {
				p = ch.OldPath + p[len(ch.Path):]
			} else if atOrBelow(p, ch.OldPath) {
				return "", false
			}
		}
	}
	return p, true
}

// LiveIndexPaths returns the paths whose index records Live may need to
// judge batch (LiveInput.Index): each change's Path, or a rename's
// OldPath, and where a folder renamed earlier in the batch held it.
func LiveIndexPaths(batch []wire.Change) []string {
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for i, ch := range batch {
		for _, c := range priorPaths(batch, i, changeKey(ch)) {
			add(c)
		}
	}
	return out
}

// priorPaths returns p and where each rename before batch[i] may have
// moved it from, should the engine have propagated it.
func priorPaths(batch []wire.Change, i int, p string) []string {
	cands := []string{p}
	for j := i - 1; j >= 0 && len(cands) < maxIndexPaths; j-- {
		if r := batch[j]; r.Kind == wire.ChangeRename {
			for _, c := range cands {
				if atOrBelow(c, r.Path) {
					cands = append(cands, r.OldPath+c[len(r.Path):])
				}
			}
		}
	}
	return cands
}

// maxIndexPaths bounds the places one change's path is looked for: the
// renames of a batch rarely nest, and a path not looked for counts as new
// to the index.
const maxIndexPaths = 16

// atOrBelow reports whether p is dir or below it.
func atOrBelow(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}
