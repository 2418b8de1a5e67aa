package store

import (
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/wire"
)

// Quarantine is an entry of a session's File Conflict List: what the engine
// could not settle, and since when it has been listed.
type Quarantine struct {
	conflict.Quarantine
	Created time.Time `json:"created"`
}

// PutQuarantines lists (or updates) quarantines in a session's File Conflict
// List, in one transaction. A path already listed keeps its Created time; a
// new one with a zero Created is stamped now.
func (h *Hub) PutQuarantines(session string, qs []Quarantine) error {
	for _, q := range qs {
		if err := wire.CheckPath(q.Path); err != nil {
			return fmt.Errorf("store: quarantines %s: %w", session, err)
		}
	}
	now := time.Now()
	err := h.db.Update(func(tx *bolt.Tx) error {
		if err := sessionExists(tx, session); err != nil {
			return err
		}
		b, err := tx.Bucket(bucketQuarantines).CreateBucketIfNotExists([]byte(session))
		if err != nil {
			return err
		}
		for _, q := range qs {
			var old Quarantine
			ok, err := getJSON(b, []byte(q.Path), &old)
			if err != nil {
				return err
			}
			switch {
			case ok && !old.Created.IsZero():
				q.Created = old.Created
			case q.Created.IsZero():
				q.Created = now
			}
			if err := putJSON(b, []byte(q.Path), q); err != nil {
				return fmt.Errorf("%s: %w", q.Path, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: quarantines %s: %w", session, err)
	}
	return nil
}

// Quarantines returns a session's File Conflict List, ordered by path.
func (h *Hub) Quarantines(session string) ([]Quarantine, error) {
	var out []Quarantine
	err := h.db.View(func(tx *bolt.Tx) error {
		b := subBucket(tx, bucketQuarantines, session)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			var q Quarantine
			_, err := getJSON(b, k, &q)
			out = append(out, q)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: quarantines %s: %w", session, err)
	}
	return out, nil
}

// Quarantine returns the listed quarantine of path, or an error wrapping
// ErrNotFound.
func (h *Hub) Quarantine(session, path string) (Quarantine, error) {
	var q Quarantine
	err := h.db.View(func(tx *bolt.Tx) error {
		ok, err := getJSON(subBucket(tx, bucketQuarantines, session), []byte(path), &q)
		if err == nil && !ok {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return Quarantine{}, fmt.Errorf("store: quarantine %s %s: %w", session, path, err)
	}
	return q, nil
}

// DeleteQuarantines removes paths from a session's File Conflict List;
// absent paths are ignored.
func (h *Hub) DeleteQuarantines(session string, paths []string) error {
	err := h.db.Update(func(tx *bolt.Tx) error {
		b := subBucket(tx, bucketQuarantines, session)
		if b == nil {
			return nil
		}
		for _, p := range paths {
			if p == "" {
				continue
			}
			if err := b.Delete([]byte(p)); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: quarantines %s: delete: %w", session, err)
	}
	return nil
}

// MoveQuarantines re-keys the quarantine of from, and every one below it,
// to the same place below to, each copy named at its new path: a folder
// renamed while the session runs carries the conflicts listed in it, whose
// copies moved with it. A quarantine listed at one of the new paths is
// replaced, as the rename replaced what was there. It returns how many moved.
func (h *Hub) MoveQuarantines(session, from, to string) (int, error) {
	if err := wire.CheckPath(from); err != nil {
		return 0, fmt.Errorf("store: quarantines %s: move: %w", session, err)
	}
	if err := wire.CheckPath(to); err != nil {
		return 0, fmt.Errorf("store: quarantines %s: move: %w", session, err)
	}
	if from == to {
		return 0, nil
	}
	if strings.HasPrefix(to, from+"/") || strings.HasPrefix(from, to+"/") {
		return 0, fmt.Errorf("store: quarantines %s: move %s to %s: one contains the other", session, from, to)
	}
	moved := 0
	err := h.db.Update(func(tx *bolt.Tx) error {
		b := subBucket(tx, bucketQuarantines, session)
		if b == nil {
			return nil
		}
		olds := subtree(b, from)
		qs := make([]Quarantine, len(olds))
		for i, k := range olds {
			if _, err := getJSON(b, k, &qs[i]); err != nil {
				return err
			}
		}
		for _, k := range olds {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		for _, q := range qs {
			q.Path = to + q.Path[len(from):]
			for i := range q.Copies {
				if p, ok := wire.Moved(q.Copies[i].Entry.Path, from, to); ok {
					q.Copies[i].Entry.Path = p
				}
			}
			if err := putJSON(b, []byte(q.Path), q); err != nil {
				return fmt.Errorf("%s: %w", q.Path, err)
			}
		}
		moved = len(qs)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: quarantines %s: move %s to %s: %w", session, from, to, err)
	}
	return moved, nil
}
