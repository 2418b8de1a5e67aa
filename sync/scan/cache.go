package scan

import (
	"github.com/peerlink/peerlink/sync/delta"
	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/wire"
)

// Cached is what the cache remembers of a file: the stat fields that must
// all be unchanged for its hash to be trusted without reading it. Ctime is
// the key field: any write, chmod or rename moves it and no user can set it
// back, where mtime can be set to anything.
type Cached struct {
	Size  int64
	Mtime int64
	Ctime int64
	Ino   uint64
	Hash  wire.Hash
}

// CachedPath is a cache record with its path, and the delta signature
// (span list, sync/delta) the scan computed with the hash of a file of
// delta.MinSize or more, which the cache keeps beside the record.
type CachedPath struct {
	Path string
	Cached
	Spans []delta.Block
}

// Cache is the scan cache of one root, implemented by the agent over its
// bbolt database.
//
// Lookup is called from the goroutine that walks the tree; Update and Seen
// from the goroutine that called Run, at the same time: an implementation
// must allow that (bbolt's short read transactions beside a writer do).
//
// Pruning without holding a million paths: Seen receives every file path
// the scan reports, in batches, in strictly increasing byte order over the
// whole scan. A cache whose keys are the paths (bbolt keeps them sorted) can
// therefore delete, as each batch arrives, every key it holds that sorts
// before the batch's last path and is not in the batch nor in an earlier
// one — a merge of two sorted streams with one cursor, no memory. Keys after
// the last path seen are decided when Run returns: if it returned nil they
// are gone from the tree and may be deleted; if it failed they must be kept.
// Unreadable folders, excluded paths and skipped files are not Seen, so
// their records are pruned; that costs at most a re-hash later.
type Cache interface {
	// Lookup returns what the cache holds for path.
	Lookup(path string) (Cached, bool)
	// Update records files read in this scan; called in batches, after
	// the batch's entries were emitted.
	Update(changed []CachedPath) error
	// Seen reports the paths of every file emitted in the batch, in order.
	Seen(paths []string) error
}

// Reads is an optional interface of a Cache, for a caller that compares a
// scan with what it knew (the agent's live rescans): Read is told, after
// each batch was emitted and Update called, of every file of that batch
// whose content the scan read because the cache did not describe it, with
// what the scan found. Cacheable is false for a file changed too recently
// to be recorded (see racyWindow), which Update is not told of.
type Reads interface {
	Read(files []ReadFile)
}

// ReadFile is a file a scan read: its record, and whether it may be cached.
type ReadFile struct {
	CachedPath
	Cacheable bool
}

// hit reports whether a cached record still describes the file.
func (c Cached) hit(i tree.Info) bool {
	return c.Size == i.Size && c.Mtime == i.Mtime && c.Ctime == i.Ctime && c.Ino == i.Ino
}

func cachedOf(i tree.Info, h wire.Hash) Cached {
	return Cached{Size: i.Size, Mtime: i.Mtime, Ctime: i.Ctime, Ino: i.Ino, Hash: h}
}
