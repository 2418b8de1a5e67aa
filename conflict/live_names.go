package conflict

import (
	"fmt"
	"maps"
	"strings"

	"github.com/peerlink/peerlink/wire"
)

// A new name that differs from a sibling's only in case or Unicode form
// ("CaseX.txt" beside "casex.txt", "café" in NFC beside NFD) is held apart
// live as it is at a start: a case-insensitive host (an SMB share, NTFS,
// APFS) would overwrite one with the other, so it goes to the File
// Conflict List (ReasonNameClash) instead of to the other hosts.

// liveNames holds, for one batch, the folded names of the children of the
// folders the batch creates names in: taken from LiveInput.Folders the
// first time a new name needs them, and kept current by the batch's own
// changes.
type liveNames struct {
	d       *liveDecider // for where the index holds a folder moved in the batch
	folders map[string][]string
	by      map[string]map[string]string // folder -> FoldKey -> name
	gone    map[string]bool              // paths the batch removed or renamed away
}

func newLiveNames(d *liveDecider, folders map[string][]string) *liveNames {
	return &liveNames{d: d, folders: folders, by: map[string]map[string]string{}, gone: map[string]bool{}}
}

// folder returns dir's children by folded name.
func (n *liveNames) folder(dir string) map[string]string {
	if m, ok := n.by[dir]; ok {
		return m
	}
	m := map[string]string{}
	if at, ok := indexPath(n.d.done, dir); ok {
		for _, name := range n.folders[at] {
			if !n.gone[wire.Join(dir, name)] {
				m[FoldKey(name)] = name
			}
		}
	}
	n.by[dir] = m
	return m
}

// follow keeps the folds current after ch.
func (n *liveNames) follow(ch wire.Change) {
	switch ch.Kind {
	case wire.ChangeRemove:
		n.drop(ch.Path)
		n.below(ch.Path, "")
	case wire.ChangeRename:
		n.drop(ch.OldPath)
		n.below(ch.Path, "")
		n.below(ch.OldPath, ch.Path)
		n.add(ch.Path)
	default:
		n.add(ch.Path)
	}
}

// below forgets the folds of the folders at and below p, and the names
// gone there, or moves them to to if not "".
func (n *liveNames) below(p, to string) {
	moved := map[string]map[string]string{}
	for dir, m := range n.by {
		if dir == p || strings.HasPrefix(dir, p+"/") {
			delete(n.by, dir)
			if to != "" {
				moved[to+dir[len(p):]] = m
			}
		}
	}
	maps.Copy(n.by, moved)
	for g := range n.gone {
		if strings.HasPrefix(g, p+"/") {
			delete(n.gone, g)
			if to != "" {
				n.gone[to+g[len(p):]] = true
			}
		}
	}
}

func (n *liveNames) add(p string) {
	delete(n.gone, p)
	if m := n.by[wire.Parent(p)]; m != nil {
		m[FoldKey(wire.Base(p))] = wire.Base(p)
	}
}

func (n *liveNames) drop(p string) {
	n.gone[p] = true
	if m := n.by[wire.Parent(p)]; m != nil && m[FoldKey(wire.Base(p))] == wire.Base(p) {
		delete(m, FoldKey(wire.Base(p)))
	}
}

// newName reports whether a's change brings a name its folder may not
// hold yet: a rename's new name, or a path neither the index nor the
// batch has.
func newName(a LiveChange) bool {
	switch a.Change.Kind {
	case wire.ChangeRemove:
		return false
	case wire.ChangeRename:
		return true
	}
	return !a.Had
}

// clash returns the quarantine of a's change made on host if it brings a
// name that clashes with a sibling's.
func (n *liveNames) clash(host string, a LiveChange) (Quarantine, bool) {
	ch := a.Change
	if !newName(a) {
		return Quarantine{}, false
	}
	dir, name := wire.Parent(ch.Path), wire.Base(ch.Path)
	other, ok := n.folder(dir)[FoldKey(name)]
	// A rename that changes only a name's case does not clash with the
	// name it leaves.
	if !ok || other == name || (ch.Kind == wire.ChangeRename && wire.Join(dir, other) == ch.OldPath) {
		return Quarantine{}, false
	}
	return Quarantine{
		Path:   ch.Path,
		Reason: ReasonNameClash,
		Detail: fmt.Sprintf("made on %s; differs only in case or Unicode form from %s, which the other hosts hold; a case-insensitive host could overwrite one with the other",
			host, wire.Join(dir, other)),
		Copies: []Copy{{Host: host, Entry: ch.Entry}},
	}, true
}

// LiveFolders returns the folders whose names Live may need to judge
// batch's new names against (LiveInput.Folders), given index, the records
// of LiveInput.Index: the folder of every rename's new path, and of every
// file or folder made at a path the index lacks or the batch removes or
// renames away first (a change of mode there is a new name too: the
// rename that brought it was refused). Only new names need a folder, so a change to a big
// folder costs nothing unless it adds a name.
func LiveFolders(batch []wire.Change, index map[string]Record) []string {
	left := map[string]bool{}
	for _, ch := range batch {
		switch ch.Kind {
		case wire.ChangeRemove:
			left[ch.Path] = true
		case wire.ChangeRename:
			left[ch.OldPath] = true
		}
	}
	seen := map[string]bool{}
	var dirs []string
	for i, ch := range batch {
		switch ch.Kind {
		case wire.ChangeRename:
		case wire.ChangeWrite, wire.ChangeMkdir, wire.ChangeMeta:
			if _, had := index[ch.Path]; had && !left[ch.Path] {
				continue
			}
		default:
			continue
		}
		for _, dir := range priorPaths(batch, i, wire.Parent(ch.Path)) {
			if !seen[dir] {
				seen[dir] = true
				dirs = append(dirs, dir)
			}
		}
	}
	return dirs
}
