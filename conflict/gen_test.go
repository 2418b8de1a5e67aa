package conflict

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/peerlink/peerlink/wire"
)

// world generates random but well-formed sessions: a tree synchronised at
// the last run, then offline edits, touches, mode changes, deletions,
// creations, folder renames and file/folder swaps on random hosts.
type world struct {
	rng *rand.Rand
	n   int // makes contents and names unique
}

// names are few, so that hosts collide on paths; the last ones make case
// and NFC/NFD clashes now and then.
var names = []string{"a", "b", "c", "d", "a", "b", "c", "d", "A", "\u00e9", "e\u0301"}

func (w *world) pick(s []string) string { return s[w.rng.IntN(len(s))] }

func (w *world) name() string {
	if w.rng.IntN(6) == 0 {
		return w.pick(names)
	}
	return w.pick(names[:8])
}

func (w *world) file(path string, s float64) wire.Entry {
	w.n++
	c := fmt.Sprintf("content %d", w.n)
	e := wire.Entry{Path: path, Kind: wire.KindFile, Size: int64(len(c)), Mtime: at(s), Mode: 0o644, Hash: sha256.Sum256([]byte(c))}
	if w.rng.IntN(8) == 0 {
		e.Mode = 0o600
	}
	return e
}

func (w *world) dir(path string) wire.Entry {
	e := D(path)
	if w.rng.IntN(10) == 0 {
		e.Mode = 0o700
	}
	return e
}

// when returns a modification time in seconds, with milliseconds now and
// then so that truncate-ms matters.
func (w *world) when(from, span int) float64 {
	s := float64(from + w.rng.IntN(span))
	if w.rng.IntN(3) == 0 {
		s += float64(w.rng.IntN(1000)) / 1000
	}
	return s
}

func (w *world) paths(t tree, kind wire.EntryKind) []string {
	var out []string
	for p, e := range t {
		if kind == 0 || e.Kind == kind {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// folder returns a random folder of t, or "" for the root.
func (w *world) folder(t tree) string {
	dirs := append(w.paths(t, wire.KindDir), "", "")
	return w.pick(dirs)
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func (w *world) grow(t tree, n int) {
	for range n {
		p := join(w.folder(t), w.name())
		if _, ok := t[p]; ok {
			continue
		}
		if w.rng.IntN(3) == 0 {
			t[p] = w.dir(p)
		} else {
			t[p] = w.file(p, w.when(0, 3))
		}
	}
}

// mutate makes one offline change to t.
func (w *world) mutate(t tree) {
	files, all := w.paths(t, wire.KindFile), w.paths(t, 0)
	switch k := w.rng.IntN(10); {
	case k < 2 && len(files) > 0: // edit, usually to a later time
		p := w.pick(files)
		t[p] = w.file(p, w.when(4, 5))
		if w.rng.IntN(5) == 0 {
			t[p] = w.file(p, w.when(0, 2))
		}
	case k == 2 && len(files) > 0: // touch
		p := w.pick(files)
		e := t[p]
		e.Mtime += int64(1+w.rng.IntN(3)) * second
		t[p] = e
	case k == 3 && len(all) > 0: // chmod
		p := w.pick(all)
		e := t[p]
		e.Mode ^= 0o040
		t[p] = e
	case k == 4 && len(all) > 0: // delete
		removeTree(t, w.pick(all))
	case k == 5: // create, sometimes the same file as another host
		if w.rng.IntN(3) == 0 {
			c := "twin"
			t["twin"] = wire.Entry{Path: "twin", Kind: wire.KindFile, Size: 4, Mtime: at(7), Mode: 0o644, Hash: sha256.Sum256([]byte(c))}
			return
		}
		w.grow(t, 1+w.rng.IntN(3))
	case k <= 7: // rename a folder
		w.renameFolder(t)
	case k == 8 && len(files) > 0: // a file becomes a folder
		p := w.pick(files)
		delete(t, p)
		t[p] = w.dir(p)
		q := join(p, w.name())
		t[q] = w.file(q, w.when(4, 3))
	default:
		w.grow(t, 1)
	}
}

func (w *world) renameFolder(t tree) {
	dirs := w.paths(t, wire.KindDir)
	if len(dirs) == 0 {
		return
	}
	from := w.pick(dirs)
	w.n++
	to := join(wire.Parent(from), fmt.Sprintf("r%d", w.n))
	if w.rng.IntN(3) == 0 {
		if p := w.folder(t); p != from && !isAncestor(from, p) {
			to = join(p, fmt.Sprintf("r%d", w.n))
		}
	}
	moveTree(t, from, to)
}

// input makes one random session start.
func (w *world) input() Input {
	nh := 2 + w.rng.IntN(4)
	hosts := []string{"s1", "s2", "s3", "s4", "s5"}
	w.rng.Shuffle(len(hosts), func(i, j int) { hosts[i], hosts[j] = hosts[j], hosts[i] })
	hosts = hosts[:nh]
	base := tree{}
	w.grow(base, 4+w.rng.IntN(14))
	in := Input{Hosts: hosts, Scans: map[string][]wire.Entry{}, Options: w.options(hosts)}
	ts := make([]tree, nh)
	first := w.rng.IntN(5) == 0
	if !first {
		in.Last = map[string]Record{}
	}
	for i := range ts {
		ts[i] = base.clone()
	}
	for _, p := range w.paths(base, 0) {
		if first {
			break
		}
		rec := Record{Entry: base[p], Hosts: slices.Clone(hosts)}
		if base[p].Kind == wire.KindFile && w.rng.IntN(12) == 0 {
			i := w.rng.IntN(nh) // a host the last run did not reach
			rec.Hosts = slices.Delete(rec.Hosts, i, i+1)
			if w.rng.IntN(2) == 0 {
				delete(ts[i], p)
			}
		}
		in.Last[p] = rec
	}
	for i, h := range hosts {
		for range w.rng.IntN(4) {
			w.mutate(ts[i])
		}
		if first {
			w.grow(ts[i], w.rng.IntN(3))
		}
		for _, p := range w.paths(ts[i], 0) {
			in.Scans[h] = append(in.Scans[h], ts[i][p])
		}
	}
	if w.rng.IntN(6) == 0 {
		var union []string
		for _, t := range ts {
			union = append(union, w.paths(t, 0)...)
		}
		if len(union) > 0 {
			in.Quarantined = map[string]bool{w.pick(union): true}
		}
	}
	return in
}

func (w *world) options(hosts []string) Options {
	o := Options{
		Resolver:                   LastModified,
		TruncateMs:                 w.rng.IntN(2) == 0,
		QuarantineOfflineConflicts: w.rng.IntN(2) == 0,
		DeleteQuarantined:          w.rng.IntN(2) == 0,
		OfflineRenameDetection:     w.rng.IntN(3) > 0,
		OfflineDeleteDetection:     w.rng.IntN(2) == 0,
	}
	if w.rng.IntN(4) == 0 {
		o.Resolver = Manual
	}
	if o.OfflineDeleteDetection && w.rng.IntN(3) == 0 {
		o.DeleteMaster = w.pick(hosts)
	}
	return o
}

// describe renders an input for a failure message.
func describe(in Input) string {
	var b strings.Builder
	fmt.Fprintf(&b, "hosts %v options %+v quarantined %v\n", in.Hosts, in.Options, in.Quarantined)
	for _, p := range slices.Sorted(maps.Keys(in.Last)) {
		r := in.Last[p]
		fmt.Fprintf(&b, "  last %-10q %s %x@%d %o %v\n", p, r.Entry.Kind, r.Entry.Hash[:3], r.Entry.Mtime-epoch, r.Entry.Mode, r.Hosts)
	}
	for _, h := range in.Hosts {
		for _, e := range in.Scans[h] {
			fmt.Fprintf(&b, "  %s %-10q %s %x@%d %o\n", h, e.Path, e.Kind, e.Hash[:3], e.Mtime-epoch, e.Mode)
		}
	}
	return b.String()
}
