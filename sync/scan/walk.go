package scan

import (
	"context"
	"errors"
	"io/fs"
	"slices"
	"strings"

	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/wire"
)

// walker walks the tree depth first on its own goroutine, queueing items in
// order and hash jobs for the workers.
type walker struct {
	ctx    context.Context
	opts   Options
	chunks chan []item
	jobs   chan *job
	chunk  []item
	err    error
}

// walk reports d's entries in order, descending into folders as it meets
// them. Children are sorted by name, a folder's name compared as name+"/":
// that makes the depth-first order the sorted order of full paths (see the
// package comment).
func (w *walker) walk(d *tree.Dir) error {
	ents, err := d.Entries()
	if err != nil {
		if d.Path() == "" {
			return err // not even the root could be listed: the scan failed
		}
		return w.warn(d.Path(), err, "folder not read, its contents are left out of this scan: ")
	}
	slices.SortFunc(ents, func(a, b tree.DirEntry) int { return compareKeys(a.Name, a.IsDir(), b.Name, b.IsDir()) })
	for _, e := range ents {
		if err := w.ctx.Err(); err != nil {
			return err
		}
		p := join(d.Path(), e.Name)
		if tree.IsTemp(e.Name) {
			if e.Type == 0 && !w.opts.KeepTemp {
				if err := d.RemoveTemp(e.Name); err != nil && !errors.Is(err, fs.ErrNotExist) {
					if err := w.warn(p, err, "leftover temp file could not be removed: "); err != nil {
						return err
					}
				}
			}
			continue
		}
		if err := wire.CheckPath(p); err != nil {
			bad := &wire.Error{Kind: wire.KindInvalid, Op: "scan", Path: strings.ToValidUTF8(p, "\uFFFD"), Msg: err.Error() + "; rename it to synchronise it"}
			if err := w.put(item{warn: bad}); err != nil {
				return err
			}
			continue
		}
		isDir := e.IsDir()
		if w.opts.Filter.Excluded(p, isDir) {
			continue
		}
		if !isDir && e.Type != 0 {
			if err := w.special(p, e.Type); err != nil {
				return err
			}
			continue
		}
		info, err := d.Lstat(e.Name)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since the listing
		}
		if err != nil {
			if err := w.warn(p, err, "not read: "); err != nil {
				return err
			}
			continue
		}
		if (info.Kind == wire.KindDir) != isDir {
			// Replaced since the listing: judge it by what it is now. Its
			// place in the order may be off by this one entry, which only
			// matters to the cache, and only as a pruned record.
			if info.Kind == wire.KindDir && w.opts.Filter.Excluded(p, true) {
				continue
			}
		}
		switch info.Kind {
		case wire.KindDir:
			if err := w.folder(d, e.Name, p, info); err != nil {
				return err
			}
		case wire.KindFile:
			if err := w.file(p, info); err != nil {
				return err
			}
		default:
			if err := w.special(p, info.Type); err != nil {
				return err
			}
		}
	}
	return nil
}

// under reports the path p and, for a folder, everything below it.
func (w *walker) under(t *tree.Tree, p string) error {
	if w.opts.Filter.Excluded(p, false) {
		return nil
	}
	info, err := t.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return w.warn(p, err, "not read: ")
	}
	switch info.Kind {
	case wire.KindFile:
		return w.file(p, info)
	case wire.KindDir:
		if err := w.put(item{entry: info.Entry(p)}); err != nil {
			return err
		}
		sub, err := t.OpenDir(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return w.warn(p, err, "folder not read, its contents are left out of this scan: ")
		}
		defer sub.Close()
		return w.walk(sub)
	}
	return w.special(p, info.Type)
}

func (w *walker) folder(parent *tree.Dir, name, p string, info tree.Info) error {
	if err := w.put(item{entry: info.Entry(p)}); err != nil {
		return err
	}
	sub, err := parent.OpenDir(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return w.warn(p, err, "folder not read, its contents are left out of this scan: ")
	}
	defer sub.Close()
	return w.walk(sub)
}

// file reports a file from the cache when its stat is unchanged, else
// queues it for hashing.
func (w *walker) file(p string, info tree.Info) error {
	if w.opts.Cache != nil {
		if c, ok := w.opts.Cache.Lookup(p); ok && c.hit(info) {
			e := info.Entry(p)
			e.Hash = c.Hash
			return w.put(item{entry: e})
		}
	}
	j := &job{path: p, info: info, done: make(chan struct{})}
	select {
	case w.jobs <- j:
	case <-w.ctx.Done():
		return w.ctx.Err()
	}
	return w.put(item{job: j})
}

func (w *walker) special(p string, typ fs.FileMode) error {
	what := tree.Info{Type: typ}.TypeString()
	return w.put(item{warn: &wire.Error{Kind: wire.KindInvalid, Op: "scan", Path: p,
		Msg: what + " skipped: peerlink synchronises files and folders only"}})
}

// warn queues a warning for p built from err, whose kind it keeps.
func (w *walker) warn(p string, err error, what string) error {
	we := wire.ToError("scan", "", p, err)
	we.Msg = what + we.Msg
	return w.put(item{warn: we})
}

// put appends an item to the current chunk, handing the chunk to the
// collector when full.
func (w *walker) put(it item) error {
	w.chunk = append(w.chunk, it)
	if len(w.chunk) < chunkLen {
		return nil
	}
	select {
	case w.chunks <- w.chunk:
		w.chunk = make([]item, 0, chunkLen)
		return nil
	case <-w.ctx.Done():
		return w.ctx.Err()
	}
}

// flush hands over the last, partial chunk.
func (w *walker) flush() {
	if len(w.chunk) == 0 {
		return
	}
	select {
	case w.chunks <- w.chunk:
	case <-w.ctx.Done():
	}
	w.chunk = nil
}

// compareKeys orders two names of one folder as full paths sort: a folder's
// name is compared as name+"/", without building the string.
func compareKeys(a string, aDir bool, b string, bDir bool) int {
	n := min(len(a), len(b))
	if c := strings.Compare(a[:n], b[:n]); c != 0 {
		return c
	}
	// One is a prefix of the other (or they are equal): compare the next
	// byte, '/' standing in after a folder's name, nothing after a file's.
	next := func(s string, dir bool) int {
		switch {
		case len(s) > n:
			return int(s[n])
		case dir:
			return '/'
		}
		return -1
	}
	return next(a, aDir) - next(b, bDir)
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
