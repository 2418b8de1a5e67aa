package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the version of the layout described in the package
// documentation. Bump it, and add a migration in migrate, whenever a bucket
// or an encoding changes in a way an older build could misread.
const SchemaVersion = 1

var (
	// ErrNotFound is wrapped by every lookup of something that is not stored.
	ErrNotFound = errors.New("not found")
	// ErrSchema is wrapped when a file was written by a newer peerlink.
	ErrSchema = errors.New("unsupported schema version")
	// ErrLocked is wrapped when another process holds the file.
	ErrLocked = errors.New("data file locked by another process")
	// ErrWrongRole is wrapped when a hub opens an agent's file or the reverse.
	ErrWrongRole = errors.New("database of another role")
	// ErrCorrupt is wrapped by every decoding error of a stored value.
	ErrCorrupt = errors.New("corrupt stored value")
)

// lockTimeout is how long Open waits for bbolt's file lock.
const lockTimeout = time.Second

const (
	roleHub   = "hub"
	roleAgent = "agent"
)

var (
	bucketMeta = []byte("meta")
	keySchema  = []byte("schema")
	keyRole    = []byte("role")
)

// open opens (creating if needed) the bbolt file at path for role and makes
// sure every top-level bucket exists.
func open(path, role string, buckets [][]byte) (*bolt.DB, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: lockTimeout,
		// The freelist is rebuilt by scanning at open instead of being
		// written at every commit: cheaper commits for a large index.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("store: open %s: %s data dir in use by another peerlink %s? "+
			"stop the other %s or give this one another --data directory: %w",
			path, role, role, role, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return initSchema(tx, role, buckets) }); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return db, nil
}

// initSchema stamps a new file, or checks (and would migrate) an existing one.
func initSchema(tx *bolt.Tx, role string, buckets [][]byte) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		empty := true
		_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
		if !empty {
			return fmt.Errorf("not a peerlink %s database (no meta bucket)", role)
		}
		var err error
		if meta, err = tx.CreateBucket(bucketMeta); err != nil {
			return err
		}
		if err := meta.Put(keySchema, binary.BigEndian.AppendUint32(nil, SchemaVersion)); err != nil {
			return err
		}
		if err := meta.Put(keyRole, []byte(role)); err != nil {
			return err
		}
	}
	v := meta.Get(keySchema)
	if len(v) != 4 {
		return fmt.Errorf("schema version: %w", ErrCorrupt)
	}
	version := binary.BigEndian.Uint32(v)
	if got := string(meta.Get(keyRole)); got != role {
		return fmt.Errorf("this is the database of a peerlink %s, not of this %s: check --data: %w", got, role, ErrWrongRole)
	}
	if version > SchemaVersion {
		return fmt.Errorf("written by a newer peerlink (schema %d; this build knows up to %d): "+
			"run the newer peerlink, or restore a backup of the data directory: %w", version, SchemaVersion, ErrSchema)
	}
	if err := migrate(tx, meta, version); err != nil {
		return err
	}
	for _, name := range buckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("bucket %s: %w", name, err)
		}
	}
	return nil
}

// migrate brings a file of an older schema version up to SchemaVersion in
// the opening transaction, so a crash leaves either the old or the new schema.
func migrate(_ *bolt.Tx, _ *bolt.Bucket, version uint32) error {
	if version == 0 {
		return fmt.Errorf("schema version 0: %w", ErrCorrupt)
	}
	// Version 1 is the first: nothing to migrate yet.
	return nil
}

// getJSON decodes the JSON value under key into v; false if there is none.
func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	if b == nil {
		return false, nil
	}
	data := b.Get(key)
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("%s: %w: %v", key, ErrCorrupt, err)
	}
	return true, nil
}

// putJSON encodes v as JSON under key.
func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
}

// subBucket returns the sub-bucket name of top, or nil.
func subBucket(tx *bolt.Tx, top []byte, name string) *bolt.Bucket {
	return tx.Bucket(top).Bucket([]byte(name))
}

// deleteSub deletes the sub-bucket name of top if it exists.
func deleteSub(tx *bolt.Tx, top []byte, name string) error {
	err := tx.Bucket(top).DeleteBucket([]byte(name))
	if errors.Is(err, berrors.ErrBucketNotFound) {
		return nil
	}
	return err
}

// arena holds copies of values for a whole write transaction: bbolt keeps
// the value slices passed to Put until commit, so a scratch buffer reused
// for encoding must be copied before Put.
type arena struct{ buf []byte }

// copy returns a copy of b that stays valid until the arena is dropped.
func (a *arena) copy(b []byte) []byte {
	a.room(len(b))
	n := len(a.buf)
	a.buf = append(a.buf, b...)
	return a.buf[n:len(a.buf):len(a.buf)]
}

// copyString is copy of s's bytes, without a conversion's allocation.
func (a *arena) copyString(s string) []byte {
	a.room(len(s))
	n := len(a.buf)
	a.buf = append(a.buf, s...)
	return a.buf[n:len(a.buf):len(a.buf)]
}

// room makes room for n more bytes: a new block where the last is full.
func (a *arena) room(n int) {
	if cap(a.buf)-len(a.buf) < n {
		a.buf = make([]byte, 0, max(64<<10, n))
	}
}
