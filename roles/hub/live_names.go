package hub

import (
	"fmt"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/wire"
)

// A new name that differs from a sibling's only in case or Unicode form
// ("CaseX.txt" beside "casex.txt", "café" in NFC beside NFD) is held apart
// live as it is at a start: a case-insensitive host (an SMB share, NTFS,
// APFS) would overwrite one with the other, so it goes to the File
// Conflict List (name-clash) instead of to the other hosts.

// nameFolds holds, for one batch, the folded names of the children of the
// folders the batch creates names in: read from the index once per folder,
// the first time a new name needs them, and kept current by the batch's
// own changes. Only new names read a folder: a removal just notes the name
// gone, so a change to a big folder costs nothing unless it adds a name.
type nameFolds struct {
	r    *run
	by   map[string]map[string]string // folder -> FoldKey -> name
	gone map[string]bool              // paths the batch removed or renamed away
}

func (r *run) newNameFolds() *nameFolds {
	return &nameFolds{r: r, by: map[string]map[string]string{}, gone: map[string]bool{}}
}

// folder returns dir's children by folded name.
func (n *nameFolds) folder(dir string) (map[string]string, error) {
	if m, ok := n.by[dir]; ok {
		return m, nil
	}
	m := map[string]string{}
	err := n.r.h.db.IndexChildren(n.r.cfg.Name, dir, func(name string) {
		if !n.gone[wire.Join(dir, name)] {
			m[conflict.FoldKey(name)] = name
		}
	})
	if err != nil {
		return nil, err
	}
	n.by[dir] = m
	return m, nil
}

// clash returns the sibling whose name p's clashes with, if any.
func (n *nameFolds) clash(p string) (string, error) {
	dir, name := wire.Parent(p), wire.Base(p)
	m, err := n.folder(dir)
	if err != nil {
		return "", err
	}
	if other, ok := m[conflict.FoldKey(name)]; ok && other != name {
		return wire.Join(dir, other), nil
	}
	return "", nil
}

// follow keeps the folds current after ch.
func (n *nameFolds) follow(ch wire.Change) {
	switch ch.Kind {
	case wire.ChangeRemove:
		n.drop(ch.Path)
	case wire.ChangeRename:
		n.drop(ch.OldPath)
		n.add(ch.Path)
	default:
		n.add(ch.Path)
	}
}

func (n *nameFolds) add(p string) {
	delete(n.gone, p)
	if m := n.by[wire.Parent(p)]; m != nil {
		m[conflict.FoldKey(wire.Base(p))] = wire.Base(p)
	}
}

func (n *nameFolds) drop(p string) {
	n.gone[p] = true
	if m := n.by[wire.Parent(p)]; m != nil && m[conflict.FoldKey(wire.Base(p))] == wire.Base(p) {
		delete(m, conflict.FoldKey(wire.Base(p)))
	}
}

// clashes reports whether a's change brings a name that clashes with a
// sibling's, and quarantines it if so.
func (n *nameFolds) clashes(host string, a liveChange) bool {
	ch := a.change
	switch {
	case ch.Kind == wire.ChangeRemove, ch.Kind == wire.ChangeMeta:
		return false
	case ch.Kind != wire.ChangeRename && a.had:
		return false // a name the index knows: not new
	}
	if ch.Kind == wire.ChangeRename {
		// A rename that changes only a name's case does not clash with
		// the name it leaves.
		n.drop(ch.OldPath)
	}
	other, err := n.clash(ch.Path)
	if err != nil {
		n.r.log.Error().Err(err).Msg("index")
		return false
	}
	if other == "" {
		return false
	}
	n.r.quarantineLive(ch.Path, conflict.ReasonNameClash,
		fmt.Sprintf("made on %s; differs only in case or Unicode form from %s, which the other hosts hold; a case-insensitive host could overwrite one with the other", host, other),
		[]conflict.Copy{{Host: host, Entry: ch.Entry}})
	return true
}
