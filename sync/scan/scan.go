package scan

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/peerlink/peerlink/sync/filter"
	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/wire"
)

// Options tune a scan. The zero value scans everything, hashing every file.
type Options struct {
	Filter  *filter.Filter // paths to leave out; nil leaves out nothing
	Cache   Cache          // nil: no cache, every file is read
	Batch   int            // entries per emit; 0 means 2000; at most wire.MaxBatch
	Workers int            // files hashed at once; 0 means runtime.NumCPU()
	// Under, when set, scans only that path and what is below it (the
	// path itself first). A path that does not exist yields no entries.
	// Such a scan is partial: a cache must not prune after it.
	Under string
	// KeepTemp leaves peerlink's temp files alone instead of removing
	// them as a crash's leftovers: a scan while transfers may be in
	// flight (the agent's rescans of a running session) must not take
	// a transfer's file from under it. They are not reported either way.
	KeepTemp bool
}

const (
	defaultBatch = 2000
	// chunkLen items travel from the walker to the collector together, and
	// at most window of them are between the two: the bound on how far the
	// walk runs ahead of a slow hash, and on the memory that costs.
	chunkLen = 256
	window   = 16 * chunkLen
)

// racyWindow guards against a file changed so soon after it was read that
// its change time did not move: a timestamp comes from a clock that ticks
// every few milliseconds (seconds on some network file systems). A file
// whose ctime is this close to the moment it was read is hashed but not
// cached, so the next scan reads it again. Tests set it to 0.
var racyWindow = 2 * time.Second

// item is one entry in walk order; job is set while its hash is pending.
type item struct {
	entry wire.Entry
	warn  *wire.Error
	job   *job
}

// Run scans t and calls emit with the entries in batches, in walk order (see
// the package comment), from the calling goroutine. emit may keep the slice.
// It returns the scan's counts and its warnings; err is set only when the
// scan as a whole failed (ctx, the root, emit, the cache), in which case the
// counts and warnings cover what was done until then.
func Run(ctx context.Context, t *tree.Tree, opts Options, emit func([]wire.Entry) error) (wire.ScanStats, []wire.Error, error) {
	if opts.Batch == 0 {
		opts.Batch = defaultBatch
	}
	if opts.Batch < 0 || opts.Batch > wire.MaxBatch {
		return wire.ScanStats{}, nil, fmt.Errorf("scan: batch of %d entries, want 1 to %d", opts.Batch, wire.MaxBatch)
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}
	if opts.Under != "" {
		if err := wire.CheckPath(opts.Under); err != nil {
			return wire.ScanStats{}, nil, fmt.Errorf("scan %s: %w", t.Dir(), err)
		}
	}
	root, err := t.OpenDir("")
	if err != nil {
		return wire.ScanStats{}, nil, fmt.Errorf("scan %s: %w", t.Dir(), err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := &walker{ctx: ctx, opts: opts, chunks: make(chan []item, window/chunkLen), jobs: make(chan *job, 4*opts.Workers)}
	var wg sync.WaitGroup
	wg.Go(func() {
		defer root.Close()
		if opts.Under != "" {
			w.err = w.under(t, opts.Under)
		} else {
			w.err = w.walk(root)
		}
		w.flush()
		close(w.jobs)
		close(w.chunks)
	})
	for range opts.Workers {
		wg.Go(func() { hashWorker(ctx, t, w.jobs) })
	}
	c := &collector{ctx: ctx, opts: opts, emit: emit}
	err = c.run(w.chunks)
	if err != nil {
		cancel()
	}
	// Nothing is left to read from w.chunks once the collector failed: the
	// walker's sends select on ctx, so it ends; so do the workers.
	for range w.chunks {
	}
	wg.Wait()
	if err == nil {
		err = w.err
	}
	if err == nil {
		err = ctx.Err()
	}
	return c.stats, c.warnings, err
}

// collector turns the ordered items into emitted batches, cache updates and
// stats. It runs on Run's goroutine.
type collector struct {
	ctx      context.Context
	opts     Options
	emit     func([]wire.Entry) error
	stats    wire.ScanStats
	warnings []wire.Error

	batch   []wire.Entry
	changed []CachedPath
	read    []ReadFile // for a Cache that implements Reads
	seen    []string
}

func (c *collector) run(chunks <-chan []item) error {
	for chunk := range chunks {
		for i := range chunk {
			it := &chunk[i]
			if j := it.job; j != nil {
				select {
				case <-j.done:
				case <-c.ctx.Done():
					return c.ctx.Err()
				}
				if j.read {
					c.stats.Hashed++
				}
				it.entry, it.warn = j.entry, j.warn
				if j.cache && c.opts.Cache != nil {
					c.changed = append(c.changed, CachedPath{Path: j.entry.Path, Cached: j.cached, Spans: j.spans})
				}
				if _, ok := c.opts.Cache.(Reads); ok && j.read && j.warn == nil && j.entry.Kind == wire.KindFile {
					c.read = append(c.read, ReadFile{CachedPath{Path: j.entry.Path, Cached: j.cached}, j.cache})
				}
			}
			if it.warn != nil {
				c.warnings = append(c.warnings, *it.warn)
				c.stats.Skipped++
				continue
			}
			e := it.entry
			switch e.Kind {
			case wire.KindFile:
				c.stats.Files++
				c.stats.Bytes += e.Size
				c.seen = append(c.seen, e.Path)
			case wire.KindDir:
				c.stats.Dirs++
			default:
				continue // a file that vanished before it was read
			}
			c.batch = append(c.batch, e)
			if len(c.batch) == c.opts.Batch {
				if err := c.flush(); err != nil {
					return err
				}
			}
		}
	}
	if err := c.ctx.Err(); err != nil {
		return err // the walk stopped early: a last batch would look complete
	}
	return c.flush()
}

func (c *collector) flush() error {
	if err := c.ctx.Err(); err != nil {
		return err
	}
	if len(c.batch) > 0 {
		if err := c.emit(c.batch); err != nil {
			return err
		}
		c.batch = make([]wire.Entry, 0, c.opts.Batch)
	}
	if cache := c.opts.Cache; cache != nil {
		if len(c.changed) > 0 {
			if err := cache.Update(c.changed); err != nil {
				return fmt.Errorf("scan cache: %w", err)
			}
			c.changed = nil
		}
		if len(c.seen) > 0 {
			if err := cache.Seen(c.seen); err != nil {
				return fmt.Errorf("scan cache: %w", err)
			}
		}
		if r, ok := cache.(Reads); ok && len(c.read) > 0 {
			r.Read(c.read)
			c.read = nil
		}
	}
	c.seen = nil
	return nil
}
