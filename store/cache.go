package store

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/peerlink/peerlink/wire"
)

// pruneChunk bounds the keys one pruning transaction deletes.
const pruneChunk = 4096

// CachedPath is a cache entry with its path, for UpdateCache.
type CachedPath struct {
	Path string
	Cached
}

// CacheReader serves a scan's lookups from one read transaction, and
// remembers which paths the scan asked about so that Prune can drop the
// rest afterwards. Its methods are safe for concurrent use.
//
// The transaction is ended by any write to the Agent (see Agent) and a new
// one begun at the next Lookup; a scan that writes nothing reads from one
// snapshot throughout.
type CacheReader struct {
	a       *Agent
	session string

	// All below are guarded by a.mu.
	tx     *bolt.Tx // nil until begun, and after a write released it
	b      *bolt.Bucket
	key    []byte
	seed   maphash.Seed
	seen   []uint64 // maphash of every path looked up or written
	err    error    // first error beginning a transaction
	closed bool
}

// BeginScan returns a reader of a session's scan cache. Close it when the
// scan ends.
func (a *Agent) BeginScan(session string) (*CacheReader, error) {
	if err := wire.CheckName("session", session); err != nil {
		return nil, fmt.Errorf("store: scan cache: %w", err)
	}
	r := &CacheReader{a: a, session: session, seed: maphash.MakeSeed()}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil, fmt.Errorf("store: scan cache %s: %w", session, errClosed)
	}
	if err := r.begin(); err != nil {
		return nil, fmt.Errorf("store: scan cache %s: %w", session, err)
	}
	a.readers[r] = struct{}{}
	return r, nil
}

// begin starts the reader's transaction. Called with a.mu held.
func (r *CacheReader) begin() error {
	tx, err := r.a.db.Begin(false)
	if err != nil {
		return err
	}
	r.tx = tx
	r.b = subBucket(tx, bucketCache, r.session)
	return nil
}

// release ends the reader's transaction. Called with a.mu held.
func (r *CacheReader) release() {
	if r.tx != nil {
		_ = r.tx.Rollback()
		r.tx, r.b = nil, nil
	}
}

// Lookup returns the cache entry of path. A missing or undecodable entry is
// a miss: the file is hashed again and its entry rewritten.
func (r *CacheReader) Lookup(path string) (Cached, bool) {
	a := r.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.closed {
		return Cached{}, false
	}
	r.seen = append(r.seen, maphash.String(r.seed, path))
	if r.tx == nil {
		if err := r.begin(); err != nil {
			if r.err == nil {
				r.err = fmt.Errorf("store: scan cache %s: %w", r.session, err)
			}
			return Cached{}, false
		}
	}
	if r.b == nil {
		return Cached{}, false
	}
	r.key = append(r.key[:0], path...)
	v := r.b.Get(r.key)
	if v == nil {
		return Cached{}, false
	}
	c, err := parseCached(v)
	if err != nil {
		return Cached{}, false
	}
	return c, true
}

// Prune deletes from the session's cache every entry that this reader was
// not asked about and that no UpdateCache wrote since BeginScan: the files
// the scan did not see. Call it only after a complete scan. It keeps 8
// bytes per path looked up, not the paths; a hash collision can only keep a
// stale entry, which costs nothing but its space.
func (r *CacheReader) Prune() (int, error) {
	keep, err := r.keeper()
	if err != nil {
		return 0, fmt.Errorf("store: scan cache %s: prune after Close", r.session)
	}
	return r.a.PruneCache(r.session, keep)
}

// Unseen calls fn, in path order, with every entry of the session's cache
// that Prune would delete (see there), and deletes nothing: the files a
// complete scan did not see, for a caller that must act on each (the
// agent's rescan reports them removed). fn runs outside any transaction,
// so it may block or write to the Agent; its error ends the walk.
func (r *CacheReader) Unseen(fn func(path string) error) error {
	keep, err := r.keeper()
	if err != nil {
		return err
	}
	var after []byte
	for {
		stale, done, err := r.a.staleKeys(r.session, keep, after)
		if err != nil {
			return fmt.Errorf("store: scan cache %s: %w", r.session, err)
		}
		for _, k := range stale {
			if err := fn(string(k)); err != nil {
				return err
			}
		}
		if done || len(stale) == 0 {
			return nil
		}
		after = stale[len(stale)-1]
	}
}

// keeper returns whether a path was seen by the reader: looked up, or
// written since BeginScan.
func (r *CacheReader) keeper() (func(string) bool, error) {
	a := r.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.closed {
		return nil, fmt.Errorf("store: scan cache %s: reader closed", r.session)
	}
	slices.Sort(r.seen)
	r.seen = slices.Compact(r.seen)
	seen, seed := slices.Clip(r.seen), r.seed
	return func(path string) bool {
		_, ok := slices.BinarySearch(seen, maphash.String(seed, path))
		return ok
	}, nil
}

// Err returns the first error the reader met beginning a transaction;
// Lookups after it were misses.
func (r *CacheReader) Err() error {
	r.a.mu.Lock()
	defer r.a.mu.Unlock()
	return r.err
}

// Close ends the reader and returns Err.
func (r *CacheReader) Close() error {
	a := r.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if !r.closed {
		r.release()
		r.closed = true
		r.seen = nil
		delete(a.readers, r)
	}
	return r.err
}

// UpdateCache writes changed entries and deletes removed paths of a
// session's cache in one transaction. A path in both is written.
func (a *Agent) UpdateCache(session string, changed []CachedPath, removed []string) error {
	if err := wire.CheckName("session", session); err != nil {
		return fmt.Errorf("store: scan cache: %w", err)
	}
	// Encode outside the lock, in path order (see PutIndex).
	order := make([]int32, len(changed))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(x, y int32) int { return strings.Compare(changed[x].Path, changed[y].Path) })
	vals := make([][]byte, len(changed))
	var buf []byte
	var values arena
	for _, i := range order {
		c := &changed[i]
		if err := wire.CheckPath(c.Path); err != nil {
			return fmt.Errorf("store: scan cache %s: %w", session, err)
		}
		var err error
		if buf, err = appendCached(buf[:0], &c.Cached); err != nil {
			return fmt.Errorf("store: scan cache %s: %s: %w", session, c.Path, err)
		}
		vals[i] = values.copy(buf)
	}
	err := a.update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketCache).CreateBucketIfNotExists([]byte(session))
		if err != nil {
			return err
		}
		b.FillPercent = indexFill
		if err := deleteSignatures(tx, session, removed); err != nil {
			return err
		}
		for _, p := range removed {
			if p == "" {
				continue
			}
			if err := b.Delete([]byte(p)); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		for _, i := range order {
			if err := b.Put([]byte(changed[i].Path), vals[i]); err != nil {
				return fmt.Errorf("%s: %w", changed[i].Path, err)
			}
		}
		return nil
	}, func() {
		// What a scan writes, it saw: keep it from its reader's Prune.
		for r := range a.readers {
			if r.session == session {
				for i := range changed {
					r.seen = append(r.seen, maphash.String(r.seed, changed[i].Path))
				}
			}
		}
	})
	if err != nil {
		return fmt.Errorf("store: scan cache %s: %w", session, err)
	}
	return nil
}

// PruneCache deletes every entry of a session's cache whose path keep
// rejects, and returns how many it deleted. It walks the cache in read
// transactions and deletes in transactions of at most pruneChunk keys, so
// neither the paths nor a long write lock are held. keep is called inside a
// read transaction and must not write to a.
func (a *Agent) PruneCache(session string, keep func(path string) bool) (int, error) {
	removed := 0
	var after []byte // last key examined
	for {
		stale, done, err := a.staleKeys(session, keep, after)
		if len(stale) > 0 {
			after = stale[len(stale)-1]
		}
		if err == nil && len(stale) > 0 {
			err = a.update(func(tx *bolt.Tx) error {
				b := subBucket(tx, bucketCache, session)
				if b == nil {
					return nil
				}
				for _, k := range stale {
					if err := b.Delete(k); err != nil {
						return err
					}
				}
				return nil
			}, nil)
		}
		if err != nil {
			return removed, fmt.Errorf("store: scan cache %s: prune: %w", session, err)
		}
		removed += len(stale)
		if done {
			return removed, nil
		}
	}
}

// staleKeys returns, from one read transaction, up to pruneChunk keys of a
// session's cache after the key after (from the first when nil) that keep
// rejects, and whether the walk reached the end.
func (a *Agent) staleKeys(session string, keep func(path string) bool, after []byte) (stale [][]byte, done bool, err error) {
	err = a.db.View(func(tx *bolt.Tx) error {
		b := subBucket(tx, bucketCache, session)
		if b == nil {
			done = true
			return nil
		}
		c := b.Cursor()
		k, _ := c.First()
		if after != nil {
			if k, _ = c.Seek(after); bytes.Equal(k, after) {
				k, _ = c.Next()
			}
		}
		for ; k != nil; k, _ = c.Next() {
			if !keep(string(k)) {
				stale = append(stale, bytes.Clone(k))
				if len(stale) == pruneChunk {
					return nil
				}
			}
		}
		done = true
		return nil
	})
	return stale, done, err
}
