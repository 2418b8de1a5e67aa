package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/peerlink/peerlink/wire"
)

// The identity of each host's root (issue 14: "a host that returns with a
// different root"; wire/rootid.go, roles/hub/rootid.go): recorded when the
// host's scan is first merged, compared at every attach.
//
// Layout: roots/SESSION/HOST -> JSON RootRecord.

var bucketRoots = []byte("roots")

// RootRecord is what the hub knows of a host's root in a session.
type RootRecord struct {
	// Root is what identified the root when it was recorded; zero (no
	// ID) where it is to be recorded at the host's next merge.
	Root wire.RootIdentity `json:"root,omitzero"`
	// Path is the root's path then, for the messages.
	Path     string    `json:"path,omitempty"`
	Recorded time.Time `json:"recorded,omitzero"`
	// Fresh: an operator reset the root (`session reset-root`); the
	// host's next merge takes it as a new host, as at a first start.
	Fresh bool `json:"fresh,omitempty"`
}

// RootRecord returns host's record in session; ok is false where it has
// none (a session that ran before roots were recorded).
func (h *Hub) RootRecord(session, host string) (rec RootRecord, ok bool, err error) {
	err = h.db.View(func(tx *bolt.Tx) error {
		sb := subBucket(tx, bucketRoots, session)
		if sb == nil {
			return nil
		}
		v := sb.Get([]byte(host))
		if v == nil {
			return nil
		}
		ok = true
		if err := json.Unmarshal(v, &rec); err != nil {
			return fmt.Errorf("%w: root of %s: %v", ErrCorrupt, host, err)
		}
		return nil
	})
	if err != nil {
		return RootRecord{}, false, fmt.Errorf("store: root of %s in %s: %w", host, session, err)
	}
	return rec, ok, nil
}

// PutRootRecord sets host's record in session.
func (h *Hub) PutRootRecord(session, host string, rec RootRecord) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	err = h.db.Update(func(tx *bolt.Tx) error {
		sb, err := tx.Bucket(bucketRoots).CreateBucketIfNotExists([]byte(session))
		if err != nil {
			return err
		}
		return sb.Put([]byte(host), v)
	})
	if err != nil {
		return fmt.Errorf("store: record the root of %s in %s: %w", host, session, err)
	}
	return nil
}
