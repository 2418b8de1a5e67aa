package store

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/wire"
	bolt "go.etcd.io/bbolt"
)

// Index returns the record at path; false if there is none.
func (h *Hub) Index(session, path string) (conflict.Record, bool, error) {
	var rec conflict.Record
	var found bool
	err := h.db.View(func(tx *bolt.Tx) error {
		b := subBucket(tx, bucketIndex, session)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(path))
		if v == nil {
			return nil
		}
		r, err := newIndexReader(tx, session)
		if err != nil {
			return err
		}
		rec, err = r.record([]byte(path), v)
		found = err == nil
		return err
	})
	if err != nil {
		return conflict.Record{}, false, fmt.Errorf("store: index %s: %w", session, err)
	}
	return rec, found, nil
}

// indexReader decodes a session's records in one read transaction.
type indexReader struct {
	sets hostSets
}

func newIndexReader(tx *bolt.Tx, session string) (*indexReader, error) {
	var names []string
	if v := tx.Bucket(bucketIndexHosts).Get([]byte(session)); v != nil {
		var err error
		if names, err = parseHostTable(v); err != nil {
			return nil, fmt.Errorf("host table: %w", err)
		}
	}
	return &indexReader{sets: hostSets{names: names, sets: make(map[string][]string)}}, nil
}

// record decodes the value v stored under key k.
func (r *indexReader) record(k, v []byte) (conflict.Record, error) {
	path := string(k)
	rv, hosts, err := r.decode(path, v)
	if err != nil {
		return conflict.Record{}, err
	}
	return conflict.Record{Entry: rv.entry(path), Hosts: hosts}, nil
}

// decode checks the path (a key) and parses the value v stored under it,
// with the hosts that hold it, without building the record's entry.
func (r *indexReader) decode(path string, v []byte) (recordValue, []string, error) {
	if err := wire.CheckPath(path); err != nil {
		return recordValue{}, nil, fmt.Errorf("%w: key: %v", ErrCorrupt, err)
	}
	rv, err := parseRecord(v)
	if err != nil {
		return recordValue{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	hosts, err := r.sets.hosts(rv.mask)
	if err != nil {
		return recordValue{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	return rv, hosts, nil
}

// ForEachIndex calls fn with every record of the session whose path starts
// with prefix ("" for all; "dir/" for what is below dir), in path order,
// inside one read transaction. fn must not write to h. An error from fn
// stops the walk and is returned as is.
//
// Records share their Hosts slices with every other record of the same host
// set: append to them (their capacity is clipped) but do not modify them.
func (h *Hub) ForEachIndex(session, prefix string, fn func(conflict.Record) error) error {
	return h.walkIndex(session, prefix, nil, func(path string, rv recordValue, hosts []string) error {
		return fn(conflict.Record{Entry: rv.entry(path), Hosts: hosts})
	})
}

// walkIndex is the one cursor walk of ForEachIndex and IndexHeld: it calls
// fn with the path, the parsed value and the hosts of every record of
// session whose path starts with prefix, in path order, inside one read
// transaction. A walk of the whole index releases hub.db's pages as it
// goes (mappedPacer). The paths are copied into paths where it is not nil,
// for a caller that keeps them all. An error from fn stops the walk and is
// returned as is.
func (h *Hub) walkIndex(session, prefix string, paths *wire.PathArena, fn func(path string, rv recordValue, hosts []string) error) error {
	var fnErr error
	err := h.db.View(func(tx *bolt.Tx) error {
		b := subBucket(tx, bucketIndex, session)
		if b == nil {
			return nil
		}
		r, err := newIndexReader(tx, session)
		if err != nil {
			return err
		}
		c := b.Cursor()
		pre := []byte(prefix)
		whole := &mappedPacer{db: h.db, tx: tx}
		for k, v := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, v = c.Next() {
			var path string
			if paths != nil {
				path = paths.CopyBytes(k)
			} else {
				path = string(k)
			}
			rv, hosts, err := r.decode(path, v)
			if err != nil {
				return err
			}
			if fnErr = fn(path, rv, hosts); fnErr != nil {
				return fnErr
			}
			if prefix == "" {
				whole.step()
			}
		}
		if prefix == "" {
			whole.done()
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("store: index %s: %w", session, err)
	}
	return nil
}

// IndexChildren calls fn with the name of every path the index holds
// directly below dir ("" for the root), in order, without reading what is
// deeper: a subtree is skipped by one seek.
func (h *Hub) IndexChildren(session, dir string, fn func(name string)) error {
	err := h.db.View(func(tx *bolt.Tx) error {
		b := subBucket(tx, bucketIndex, session)
		if b == nil {
			return nil
		}
		pre := []byte(dir)
		if dir != "" {
			pre = append(pre, '/')
		}
		c := b.Cursor()
		for k, _ := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); {
			rest := k[len(pre):]
			if i := bytes.IndexByte(rest, '/'); i >= 0 {
				// Below a child: skip the child's whole subtree.
				skip := append(append([]byte{}, k[:len(pre)+i]...), '/', 0xff)
				k, _ = c.Seek(skip)
				continue
			}
			fn(string(rest))
			k, _ = c.Next()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: index %s: %w", session, err)
	}
	return nil
}

// LoadIndex returns the whole index of a session, for the conflict engine's
// Input.Last. Hosts slices are shared as with ForEachIndex.
func (h *Hub) LoadIndex(session string) (map[string]conflict.Record, error) {
	m := make(map[string]conflict.Record)
	err := h.ForEachIndex(session, "", func(r conflict.Record) error {
		m[r.Entry.Path] = r
		return nil
	})
	return m, err
}

// LoadIndexSorted returns the whole index of a session in the conflict
// engine's tree order (conflict.ComparePaths), for its Input.Sorted: a
// slice of records, with no map's overhead. Hosts slices are shared as
// with ForEachIndex.
func (h *Hub) LoadIndexSorted(session string) ([]conflict.Record, error) {
	n, err := h.IndexSize(session)
	if err != nil {
		return nil, err
	}
	recs := make([]conflict.Record, 0, n)
	// Every path is kept until the merge ends: in blocks, some 12 bytes
	// a path less than each on its own.
	var paths wire.PathArena
	err = h.walkIndex(session, "", &paths, func(path string, rv recordValue, hosts []string) error {
		recs = append(recs, conflict.Record{Entry: rv.entry(path), Hosts: hosts})
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(recs, func(a, b conflict.Record) int { return conflict.ComparePaths(a.Entry.Path, b.Entry.Path) })
	return recs, nil
}

// IndexUnder returns the records at roots and below them, and those at
// exact (only), read in one transaction by one seek per root: what a
// partial catch-up merges, with nothing else of the index in memory.
func (h *Hub) IndexUnder(session string, roots, exact []string) (map[string]conflict.Record, error) {
	out := map[string]conflict.Record{}
	err := h.db.View(func(tx *bolt.Tx) error {
		b := subBucket(tx, bucketIndex, session)
		if b == nil {
			return nil
		}
		r, err := newIndexReader(tx, session)
		if err != nil {
			return err
		}
		add := func(k, v []byte) error {
			rec, err := r.record(k, v)
			if err == nil {
				out[rec.Entry.Path] = rec
			}
			return err
		}
		for _, p := range exact {
			if v := b.Get([]byte(p)); v != nil {
				if err := add([]byte(p), v); err != nil {
					return err
				}
			}
		}
		c := b.Cursor()
		for _, root := range roots {
			if v := b.Get([]byte(root)); v != nil {
				if err := add([]byte(root), v); err != nil {
					return err
				}
			}
			pre := []byte(root + "/")
			for k, v := c.Seek(pre); k != nil && bytes.HasPrefix(k, pre); k, v = c.Next() {
				if err := add(k, v); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: index %s: %w", session, err)
	}
	return out, nil
}

// IndexHeld returns how many of session's records list each host, read
// in one transaction without building the records.
func (h *Hub) IndexHeld(session string) (map[string]int64, error) {
	held := map[string]int64{}
	err := h.walkIndex(session, "", nil, func(_ string, _ recordValue, hosts []string) error {
		for _, host := range hosts {
			held[host]++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return held, nil
}

// IndexSize returns how many paths session's index holds, from the
// bucket's statistics: no record is decoded.
func (h *Hub) IndexSize(session string) (int, error) {
	n := 0
	err := h.db.View(func(tx *bolt.Tx) error {
		if b := subBucket(tx, bucketIndex, session); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: index %s: %w", session, err)
	}
	return n, nil
}
