package agent

import (
	"context"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/sync/scan"
	"github.com/peerlink/peerlink/wire"
)

// The rescan itself, on its own goroutine: a scan of the root compared,
// as it streams, with the scan cache and the last scan's folders (see
// rescan.go).

// scanAgain is the rescan goroutine: it scans the root, compares, and
// sends what it found to the loop.
func (l *live) scanAgain(ctx context.Context) {
	start := time.Now()
	done := rescanMsg{done: true}
	base, err := l.rs.base.wait(ctx)
	if err == nil {
		d := &differ{l: l, ctx: ctx, base: base, heldAt: map[string]int{}}
		done.stats, err = d.run()
		done.found = d.out
	}
	done.err, done.took = err, time.Since(start)
	select {
	case l.rs.out <- done:
	case <-ctx.Done():
	}
}

// differ compares one rescan with what the agent knows.
type differ struct {
	l     *live
	ctx   context.Context
	base  []dirRec // the last scan's folders, sorted
	cache *lookups
	dirs  []dirRec // this scan's folders

	// held are the findings of the batch just emitted, until the scan
	// says which of its files it read (scan.Reads); heldAt indexes them by
	// path.
	held   []finding
	heldAt map[string]int
	out    []finding // ready for the loop
}

func (d *differ) run() (wire.ScanStats, error) {
	l := d.l
	r, err := l.a.db.BeginScan(l.s.name)
	if err != nil {
		return wire.ScanStats{}, err
	}
	defer r.Close()
	d.cache = &lookups{r: r, m: map[string]lookup{}, read: d.read}
	opts := scan.Options{Filter: l.s.filter, Cache: d.cache, KeepTemp: true, Workers: max(1, runtime.NumCPU()/2)}
	stats, warnings, err := scan.Run(d.ctx, l.s.tree, opts, d.entries)
	if err == nil {
		err = d.release()
	}
	if err == nil {
		err = r.Err() // lookups failed: the cache cannot say what is gone
	}
	if err != nil {
		return stats, err
	}
	d.cache.m = nil
	return stats, d.removed(r, warnings)
}

// entries compares a batch the scan emitted with what the agent knows.
func (d *differ) entries(batch []wire.Entry) error {
	if err := d.release(); err != nil {
		return err
	}
	for _, e := range batch {
		switch e.Kind {
		case wire.KindDir:
			key := e.Path + "/"
			d.dirs = append(d.dirs, dirRec{key, e.Mode})
			i, ok := slices.BinarySearchFunc(d.base, key, func(r dirRec, k string) int { return strings.Compare(r.key, k) })
			switch {
			case !ok:
				d.hold(finding{Change: wire.Change{Kind: wire.ChangeMkdir, Path: e.Path, Entry: e}})
			case d.base[i].mode != e.Mode:
				d.hold(finding{Change: wire.Change{Kind: wire.ChangeMeta, Path: e.Path, Entry: e}})
			}
		case wire.KindFile:
			c, had := d.cache.take(e.Path)
			if !had || c.Size != e.Size || c.Mtime != e.Mtime || c.Hash != e.Hash {
				d.hold(finding{Change: wire.Change{Kind: wire.ChangeWrite, Path: e.Path, Entry: e}})
			} else {
				d.hold(finding{Change: wire.Change{Kind: wire.ChangeMeta, Path: e.Path, Entry: e}, maybe: true})
			}
		}
	}
	return nil
}

func (d *differ) hold(f finding) {
	d.heldAt[f.Path] = len(d.held)
	d.held = append(d.held, f)
}

// read takes what the scan read of the files of the last batch, those the
// cache did not describe: a file whose content did not change is then a
// metadata change (its mode may be new).
func (d *differ) read(files []scan.ReadFile) {
	for _, f := range files {
		if i, ok := d.heldAt[f.Path]; ok {
			d.held[i].rec = &store.CachedPath{Path: f.Path, Cached: store.Cached(f.Cached)}
			d.held[i].racy = !f.Cacheable
			d.held[i].maybe = false
		}
	}
}

// release passes the held findings on, but for the files unchanged.
func (d *differ) release() error {
	for _, f := range d.held {
		if !f.maybe {
			if err := d.put(f); err != nil {
				return err
			}
		}
	}
	d.held = d.held[:0]
	clear(d.heldAt)
	return nil
}

// put queues a finding for the loop, sending a full chunk.
func (d *differ) put(f finding) error {
	d.out = append(d.out, f)
	if len(d.out) < rescanChunk {
		return nil
	}
	select {
	case d.l.rs.out <- rescanMsg{found: d.out}:
		d.out = nil
		return nil
	case <-d.ctx.Done():
		return d.ctx.Err()
	}
}

// removed finds what the agent knew of and the complete scan did not see:
// the last scan's folders (only the topmost of those gone is reported) and
// the scan cache's files. Paths the scan could not read (its warnings) and
// what is below them are unknown, not gone. The folders found become the
// base of the next rescan.
func (d *differ) removed(r *store.CacheReader, warnings []wire.Error) error {
	unknown := map[string]bool{}
	for _, w := range warnings {
		if w.Path != "" {
			unknown[w.Path] = true
		}
	}
	isUnknown := func(p string) bool {
		for ; p != ""; p = wire.Parent(p) {
			if unknown[p] {
				return true
			}
		}
		return false
	}
	slices.SortFunc(d.dirs, func(a, b dirRec) int { return strings.Compare(a.key, b.key) })
	var gone []string // topmost removed folders' keys, sorted
	// Folders kept as they were are added after the loop: the loop
	// searches d.dirs, which must stay sorted while it does.
	var kept []dirRec
	for _, b := range d.base {
		if _, ok := slices.BinarySearchFunc(d.dirs, b.key, func(r dirRec, k string) int { return strings.Compare(r.key, k) }); ok {
			continue
		}
		p := strings.TrimSuffix(b.key, "/")
		switch {
		case isUnknown(p):
			kept = append(kept, b) // still known as it was
		case len(gone) > 0 && strings.HasPrefix(b.key, gone[len(gone)-1]):
			// below a folder whose removal is reported
		default:
			gone = append(gone, b.key)
			if err := d.put(finding{Change: wire.Change{Kind: wire.ChangeRemove, Path: p}}); err != nil {
				return err
			}
		}
	}
	d.dirs = append(d.dirs, kept...) // sorted again below, before it is the next base
	below := func(p string) bool {
		i := sort.SearchStrings(gone, p)
		return i > 0 && strings.HasPrefix(p, gone[i-1])
	}
	err := r.Unseen(func(p string) error {
		if isUnknown(p) {
			return nil
		}
		return d.put(finding{Change: wire.Change{Kind: wire.ChangeRemove, Path: p}, file: true, quiet: below(p)})
	})
	if err != nil {
		return err
	}
	slices.SortFunc(d.dirs, func(a, b dirRec) int { return strings.Compare(a.key, b.key) })
	d.l.rs.base.put(d.dirs)
	return nil
}

// lookups is a rescan's scan.Cache (and scan.Reads): it serves the walker
// from the store's reader and keeps each file's record until the scan emits
// the file, for the differ to compare, and passes on what the scan read. It
// writes nothing: the loop writes the records of what it reports.
type lookups struct {
	r    *store.CacheReader
	read func([]scan.ReadFile)

	mu sync.Mutex
	m  map[string]lookup // files looked up and not yet emitted: at most the scan's window
}

type lookup struct {
	c  scan.Cached
	ok bool
}

func (c *lookups) Lookup(path string) (scan.Cached, bool) {
	v, ok := c.r.Lookup(path)
	c.mu.Lock()
	c.m[path] = lookup{scan.Cached(v), ok}
	c.mu.Unlock()
	return scan.Cached(v), ok
}

// take returns (and forgets) what the cache held for path.
func (c *lookups) take(path string) (scan.Cached, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.m[path]
	delete(c.m, path)
	return v.c, v.ok
}

func (c *lookups) Update([]scan.CachedPath) error { return nil }

func (c *lookups) Read(files []scan.ReadFile) { c.read(files) }

func (c *lookups) Seen([]string) error { return nil }

// dirRec is a folder a scan found: its path with a '/' appended (the order
// of a scan), and its mode.
type dirRec struct {
	key  string
	mode uint32
}

// appendDirs adds the folders of a scan's batch to dirs.
func appendDirs(dirs []dirRec, batch []wire.Entry) []dirRec {
	for _, e := range batch {
		if e.Kind == wire.KindDir {
			dirs = append(dirs, dirRec{e.Path + "/", e.Mode})
		}
	}
	return dirs
}

// knowDirs takes the folders of a complete start-up scan as the base of
// the rescans. A nil live (no live synchronisation) ignores them.
func (l *live) knowDirs(dirs []dirRec) {
	if l == nil {
		return
	}
	slices.SortFunc(dirs, func(a, b dirRec) int { return strings.Compare(a.key, b.key) })
	l.rs.base.put(dirs)
}

// dirBase is the folders of the last complete scan, sorted. The start-up
// scan sets it first: a rescan waits for it.
type dirBase struct {
	mu    sync.Mutex
	dirs  []dirRec
	ready chan struct{} // closed once set
	set   bool
}

func (b *dirBase) put(dirs []dirRec) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dirs = slices.Clip(dirs)
	if !b.set {
		b.set = true
		close(b.ready)
	}
}

// known reports whether the start-up scan gave the folders.
func (b *dirBase) known() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.set
}

// wait returns the folders once the start-up scan gave them.
func (b *dirBase) wait(ctx context.Context) ([]dirRec, error) {
	select {
	case <-b.ready:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.dirs, nil
}
