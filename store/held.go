package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/peerlink/peerlink/wire"
)

// Deletions held by the mass-delete breaker (issue 14): what a host
// deleted (at a scan, or in a live burst) beyond its session's guard is
// deleted nowhere else until an operator approves or discards it. Kept in
// hub.db so that a hub restart keeps holding them.
//
// Layout: held/SESSION/HOST/PATH -> JSON wire.Entry (the version the
// index held), and held/SESSION/HOST/"\x00meta" -> JSON Held. No path
// holds a NUL.

var bucketHeld = []byte("held")

var keyHeldMeta = []byte("\x00meta")

// Held says why and since when a host's deletions are held, and how many
// paths and files.
type Held struct {
	Since  time.Time `json:"since"`
	Reason string    `json:"reason"`
	Paths  int       `json:"paths"`
	Files  int       `json:"files"`
}

// HoldDeletions adds paths to host's held deletions in session; a host
// already held keeps its first time and reason.
func (h *Hub) HoldDeletions(session, host string, meta Held, paths map[string]wire.Entry) (Held, error) {
	var out Held
	err := h.db.Update(func(tx *bolt.Tx) error {
		sb, err := tx.Bucket(bucketHeld).CreateBucketIfNotExists([]byte(session))
		if err != nil {
			return err
		}
		hb, err := sb.CreateBucketIfNotExists([]byte(host))
		if err != nil {
			return err
		}
		ok, err := getJSON(hb, keyHeldMeta, &out)
		if err != nil {
			return err
		}
		if !ok {
			out = Held{Since: meta.Since.UTC(), Reason: meta.Reason}
		}
		for p, e := range paths {
			k := []byte(p)
			if hb.Get(k) == nil {
				out.Paths++
				if e.Kind == wire.KindFile {
					out.Files++
				}
			}
			if err := putJSON(hb, k, e); err != nil {
				return err
			}
		}
		return putJSON(hb, keyHeldMeta, out)
	})
	if err != nil {
		return Held{}, fmt.Errorf("store: hold deletions of %s in %s: %w", host, session, err)
	}
	return out, nil
}

// HeldHosts returns the hosts of session whose deletions are held.
func (h *Hub) HeldHosts(session string) (map[string]Held, error) {
	out := map[string]Held{}
	err := h.db.View(func(tx *bolt.Tx) error {
		sb := subBucket(tx, bucketHeld, session)
		if sb == nil {
			return nil
		}
		return sb.ForEachBucket(func(k []byte) error {
			var m Held
			if _, err := getJSON(sb.Bucket(k), keyHeldMeta, &m); err != nil {
				return err
			}
			out[string(k)] = m
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: held deletions of %s: %w", session, err)
	}
	return out, nil
}

// HeldDeletions returns host's held paths in session, with the version
// the index held of each.
func (h *Hub) HeldDeletions(session, host string) (map[string]wire.Entry, error) {
	out := map[string]wire.Entry{}
	err := h.db.View(func(tx *bolt.Tx) error {
		sb := subBucket(tx, bucketHeld, session)
		if sb == nil || sb.Bucket([]byte(host)) == nil {
			return nil
		}
		return sb.Bucket([]byte(host)).ForEach(func(k, v []byte) error {
			if bytes.Equal(k, keyHeldMeta) {
				return nil
			}
			var e wire.Entry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
			out[string(k)] = e
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: held deletions of %s in %s: %w", host, session, err)
	}
	return out, nil
}

// ReleaseDeletions forgets host's held deletions in session (approved or
// discarded).
func (h *Hub) ReleaseDeletions(session, host string) error {
	err := h.db.Update(func(tx *bolt.Tx) error {
		sb := subBucket(tx, bucketHeld, session)
		if sb == nil || sb.Bucket([]byte(host)) == nil {
			return nil
		}
		return sb.DeleteBucket([]byte(host))
	})
	if err != nil {
		return fmt.Errorf("store: release deletions of %s in %s: %w", host, session, err)
	}
	return nil
}
