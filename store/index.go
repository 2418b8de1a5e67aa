package store

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/wire"
)

// indexFill is the fill percent of index and cache pages: they are mostly
// loaded in path order and then updated in place, so pages split full.
const indexFill = 0.9

// replaceChunk is how many records one transaction of ReplaceIndex writes,
// bounding the memory a transaction holds.
const replaceChunk = 50_000

// indexWriter writes records of one session in one write transaction.
type indexWriter struct {
	b      *bolt.Bucket
	hosts  *hostTable
	values arena
	mask   []byte
	buf    []byte
	away   *awayLedgers // nil: no host of the session is away (see away.go)
}

// newIndexWriter opens the session's index bucket for writing in tx. An
// unknown session is an error wrapping ErrNotFound.
func newIndexWriter(tx *bolt.Tx, session string) (*indexWriter, error) {
	if err := sessionExists(tx, session); err != nil {
		return nil, err
	}
	b, err := tx.Bucket(bucketIndex).CreateBucketIfNotExists([]byte(session))
	if err != nil {
		return nil, err
	}
	b.FillPercent = indexFill
	t, err := loadHostTable(tx, session)
	if err != nil {
		return nil, err
	}
	return &indexWriter{b: b, hosts: t, away: loadAwayLedgers(tx, session, t.names)}, nil
}

// put writes one record under path.
func (w *indexWriter) put(path string, r *conflict.Record) error {
	e := r.Entry
	e.Path = path
	if err := e.Validate(); err != nil {
		return err
	}
	w.mask = w.mask[:0]
	for _, h := range r.Hosts {
		var err error
		if w.mask, err = w.hosts.setBit(w.mask, h); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	// The key in the transaction's arena, as the value: bbolt keeps both
	// until the commit, and a first start puts a million of them.
	key := w.values.copyString(path)
	if w.away != nil {
		if err := w.away.note(key, w.b.Get(key)); err != nil {
			return err
		}
	}
	v := recordOf(&e, w.mask)
	w.buf = appendRecord(w.buf[:0], &v)
	return w.b.Put(key, w.values.copy(w.buf))
}

// PutIndexOf stores index[p] for each of paths in one transaction, as
// PutIndex does, without a copy of the records: what a start-up's merge
// writes is most of its plan's index (all of it at a first start), and a
// copy of a million records costs the hub 130 MB at its peak (issue 13,
// point 5; BenchmarkStartupMergeMemory in roles/hub). It sorts paths in
// place. A path index lacks is an error, and nothing is written.
func (h *Hub) PutIndexOf(session string, paths []string, index map[string]conflict.Record) error {
	return h.PutIndexWith(session, paths, func(p string) (conflict.Record, bool) {
		rec, ok := index[p]
		return rec, ok
	})
}

// PutIndexWith stores the records get returns for paths, as PutIndexOf
// does, by PutIndexRecords in path order. A path get lacks is an error,
// and nothing is written. It sorts paths in place.
func (h *Hub) PutIndexWith(session string, paths []string, get func(string) (conflict.Record, bool)) error {
	for _, p := range paths {
		if _, ok := get(p); !ok {
			return fmt.Errorf("store: index %s: %s: no record to put", session, p)
		}
	}
	slices.Sort(paths) // path order, as PutIndex writes
	return h.PutIndexRecords(session, len(paths), func(i int) conflict.Record {
		rec, _ := get(paths[i])
		return rec
	})
}

// PutIndexRecords stores n records, rec(0) to rec(n-1) in that order
// (bbolt's, the paths' byte order, writes fastest), each under its
// Entry.Path, in transactions of replaceChunk records: a transaction holds
// every page it dirties, and a first start's million records in one cost
// the hub some 400 MB (issue 13, point 5). Each record is true on its
// own (it lists only hosts that hold its state), so a crash between two
// transactions leaves some paths with their new record and the rest with
// their old one, and the next start judges each against a true one. A
// record that does not validate stops the writing at its chunk.
func (h *Hub) PutIndexRecords(session string, n int, rec func(i int) conflict.Record) error {
	for first := 0; first == 0 || first < n; first += replaceChunk {
		end := min(n, first+replaceChunk)
		err := h.db.Update(func(tx *bolt.Tx) error {
			w, err := newIndexWriter(tx, session)
			if err != nil {
				return err
			}
			for i := first; i < end; i++ {
				r := rec(i)
				if err := w.put(r.Entry.Path, &r); err != nil {
					return err
				}
			}
			return w.hosts.save(tx, session)
		})
		if err == nil {
			// What the chunk's puts and its commit read of the tree stays
			// in the page cache, not in the hub's resident set
			// (mapped_linux.go); a read transaction holds the map still.
			err = h.db.View(func(tx *bolt.Tx) error { releaseMapped(h.db, tx); return nil })
		}
		if err != nil {
			return fmt.Errorf("store: index %s: %w", session, err)
		}
	}
	return nil
}

// PutIndex stores records (keyed by Entry.Path) in one transaction,
// replacing those already stored at their paths. Hosts not yet in the
// session's host table are added to it.
func (h *Hub) PutIndex(session string, recs []conflict.Record) error {
	// Put in path order: bbolt inserts into an in-memory node per
	// transaction, and appending in order avoids moving its elements.
	order := make([]int32, len(recs))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int { return strings.Compare(recs[a].Entry.Path, recs[b].Entry.Path) })
	err := h.db.Update(func(tx *bolt.Tx) error {
		w, err := newIndexWriter(tx, session)
		if err != nil {
			return err
		}
		for _, i := range order {
			if err := w.put(recs[i].Entry.Path, &recs[i]); err != nil {
				return err
			}
		}
		return w.hosts.save(tx, session)
	})
	if err != nil {
		return fmt.Errorf("store: index %s: %w", session, err)
	}
	return nil
}

// ReplaceIndex makes recs, keyed by path, the whole index of a session, with
// a fresh host table. It writes the new index in transactions of bounded size
// beside the old one and swaps it in with a last transaction, so a crash
// leaves the old index whole, and memory stays bounded for a million paths.
// A record whose Entry.Path is empty takes the map key as its path.
func (h *Hub) ReplaceIndex(session string, recs map[string]conflict.Record) error {
	paths := slices.Sorted(maps.Keys(recs))
	name := []byte(session)
	var hosts *hostTable
	err := h.db.Update(func(tx *bolt.Tx) error {
		s, err := getSession(tx, session)
		if err != nil {
			return err
		}
		hosts = newHostTable(s.HostNames())
		if err := deleteSub(tx, bucketIndexNew, session); err != nil {
			return err
		}
		_, err = tx.Bucket(bucketIndexNew).CreateBucket(name)
		return err
	})
	for len(paths) > 0 && err == nil {
		chunk := paths[:min(len(paths), replaceChunk)]
		paths = paths[len(chunk):]
		err = h.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketIndexNew).Bucket(name)
			if b == nil {
				return fmt.Errorf("replacement deleted by a concurrent ReplaceIndex or DeleteSession")
			}
			b.FillPercent = indexFill
			w := &indexWriter{b: b, hosts: hosts}
			for _, p := range chunk {
				r := recs[p]
				if r.Entry.Path != "" && r.Entry.Path != p {
					return fmt.Errorf("record under %q names path %q", p, r.Entry.Path)
				}
				if err := w.put(p, &r); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err == nil {
		err = h.db.Update(func(tx *bolt.Tx) error {
			if err := sessionExists(tx, session); err != nil {
				return err
			}
			if tx.Bucket(bucketIndexNew).Bucket(name) == nil {
				return fmt.Errorf("replacement deleted by a concurrent ReplaceIndex or DeleteSession")
			}
			if err := deleteSub(tx, bucketIndex, session); err != nil {
				return err
			}
			if err := tx.MoveBucket(name, tx.Bucket(bucketIndexNew), tx.Bucket(bucketIndex)); err != nil {
				return err
			}
			hosts.dirty = true
			return hosts.save(tx, session)
		})
	}
	if err != nil {
		// Drop what was written; the old index is untouched.
		_ = h.db.Update(func(tx *bolt.Tx) error { return deleteSub(tx, bucketIndexNew, session) })
		return fmt.Errorf("store: replace index %s: %w", session, err)
	}
	return nil
}

// DeleteIndex deletes the records at paths; absent paths are ignored.
func (h *Hub) DeleteIndex(session string, paths []string) error {
	err := h.db.Update(func(tx *bolt.Tx) error {
		b := subBucket(tx, bucketIndex, session)
		if b == nil {
			return nil
		}
		away, err := awayOf(tx, session)
		if err != nil {
			return err
		}
		for _, p := range paths {
			if p == "" {
				continue
			}
			if v := b.Get([]byte(p)); v != nil {
				if err := away.note([]byte(p), v); err != nil {
					return err
				}
			}
			if err := b.Delete([]byte(p)); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: index %s: %w", session, err)
	}
	return nil
}

// HostPath names a host that now holds the indexed state of a path.
type HostPath struct {
	Host, Path string
}

// AddIndexHosts adds each host to the record of its path, in one
// transaction: the hub calls it with a batch of completed transfers. A path
// with no record (deleted since the transfer was ordered) is skipped and
// counted in missing.
func (h *Hub) AddIndexHosts(session string, adds []HostPath) (missing int, err error) {
	err = h.db.Batch(func(tx *bolt.Tx) error {
		missing = 0 // Batch may run this function more than once
		w, err := newIndexWriter(tx, session)
		if err != nil {
			return err
		}
		for _, a := range adds {
			if a.Path == "" {
				missing++
				continue
			}
			v := w.b.Get([]byte(a.Path))
			if v == nil {
				missing++
				continue
			}
			rv, err := parseRecord(v)
			if err != nil {
				return fmt.Errorf("%s: %w", a.Path, err)
			}
			w.mask = append(w.mask[:0], rv.mask...)
			if w.mask, err = w.hosts.setBit(w.mask, a.Host); err != nil {
				return fmt.Errorf("%s: %w", a.Path, err)
			}
			rv.mask = w.mask
			w.buf = appendRecord(w.buf[:0], &rv)
			if err := w.b.Put([]byte(a.Path), w.values.copy(w.buf)); err != nil {
				return err
			}
		}
		return w.hosts.save(tx, session)
	})
	if err != nil {
		return 0, fmt.Errorf("store: index %s: add hosts: %w", session, err)
	}
	return missing, nil
}

// MoveIndex re-keys the record at from, and every record below it, to the
// same place below to: a folder or file renamed while the session runs.
// Records already at to or below it are replaced, as the rename replaced
// them. It returns how many records moved.
func (h *Hub) MoveIndex(session, from, to string) (int, error) {
	if err := wire.CheckPath(from); err != nil {
		return 0, fmt.Errorf("store: index %s: move: %w", session, err)
	}
	if err := wire.CheckPath(to); err != nil {
		return 0, fmt.Errorf("store: index %s: move: %w", session, err)
	}
	if from == to {
		return 0, nil
	}
	if strings.HasPrefix(to, from+"/") || strings.HasPrefix(from, to+"/") {
		return 0, fmt.Errorf("store: index %s: move %s to %s: one contains the other", session, from, to)
	}
	moved := 0
	err := h.db.Update(func(tx *bolt.Tx) error {
		if err := sessionExists(tx, session); err != nil {
			return err
		}
		b := subBucket(tx, bucketIndex, session)
		if b == nil {
			return nil
		}
		olds := subtree(b, from)
		if len(olds) == 0 {
			return nil
		}
		away, err := awayOf(tx, session)
		if err != nil {
			return err
		}
		for _, k := range subtree(b, to) {
			if err := away.note(k, b.Get(k)); err != nil {
				return err
			}
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		// Copy every value before the first write: bbolt's value slices
		// point into pages this transaction may rewrite.
		vals := make([][]byte, len(olds))
		for i, k := range olds {
			vals[i] = bytes.Clone(b.Get(k))
		}
		for i, k := range olds {
			if err := away.note(k, vals[i]); err != nil {
				return err
			}
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		for i, k := range olds {
			nk := to + string(k[len(from):])
			if err := away.note([]byte(nk), nil); err != nil {
				return err
			}
			if err := b.Put([]byte(nk), vals[i]); err != nil {
				return err
			}
		}
		moved = len(olds)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: index %s: move %s to %s: %w", session, from, to, err)
	}
	return moved, nil
}

// awayOf returns the session's away ledgers in tx (nil: none).
func awayOf(tx *bolt.Tx, session string) (*awayLedgers, error) {
	if subBucket(tx, bucketAway, session) == nil {
		return nil, nil
	}
	r, err := newIndexReader(tx, session)
	if err != nil {
		return nil, err
	}
	return loadAwayLedgers(tx, session, r.sets.names), nil
}

// subtree returns copies of the keys p and p/... present in b.
func subtree(b *bolt.Bucket, p string) [][]byte {
	var keys [][]byte
	if b.Get([]byte(p)) != nil {
		keys = append(keys, []byte(p))
	}
	pre := []byte(p + "/")
	c := b.Cursor()
	for k, _ := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	return keys
}

// ClearIndex deletes a session's whole index and its host table.
func (h *Hub) ClearIndex(session string) error {
	err := h.db.Update(func(tx *bolt.Tx) error {
		if err := deleteSub(tx, bucketIndex, session); err != nil {
			return err
		}
		return tx.Bucket(bucketIndexHosts).Delete([]byte(session))
	})
	if err != nil {
		return fmt.Errorf("store: index %s: clear: %w", session, err)
	}
	return nil
}
