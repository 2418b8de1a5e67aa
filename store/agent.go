package store

import (
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/peerlink/peerlink/wire"
)

var (
	bucketCache   = []byte("cache")
	bucketLocks   = []byte("locks")
	bucketOrphans = []byte("lock-orphans")
)

var agentBuckets = [][]byte{bucketCache, bucketLocks, bucketOrphans, bucketSigs, bucketJournal}

// Agent is an agent's state in agent.db: the scan cache and the lock
// journal. Its methods are safe for concurrent use.
//
// Every write goes through update, which first ends the read transactions
// of open CacheReaders and keeps new ones from starting until it commits.
// bbolt must remap the file when a commit grows it, and the remap waits for
// every read transaction: a scanner holding a reader while it waits for its
// own cache update would deadlock. Ending the readers' transactions also
// lets bbolt reuse the pages that writes free, so the file does not grow
// through a long scan. A reader begins a new transaction at its next Lookup.
type Agent struct {
	db *bolt.DB

	mu      sync.Mutex // held by writes; guards readers and their transactions
	readers map[*CacheReader]struct{}
	closed  bool
}

// OpenAgent opens (creating if needed) the agent database at path. It fails
// after a second, wrapping ErrLocked, if another process has it open.
func OpenAgent(path string) (*Agent, error) {
	db, err := open(path, roleAgent, agentBuckets)
	if err != nil {
		return nil, err
	}
	return &Agent{db: db, readers: make(map[*CacheReader]struct{})}, nil
}

// Close ends every open CacheReader and closes the database.
func (a *Agent) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	for r := range a.readers {
		r.release()
		r.closed = true
	}
	clear(a.readers)
	if err := a.db.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", a.db.Path(), err)
	}
	return nil
}

var errClosed = errors.New("agent database closed")

// update runs fn in a write transaction with no reader transaction open;
// after runs, still under the lock, once fn committed.
func (a *Agent) update(fn func(*bolt.Tx) error, after func()) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return errClosed
	}
	for r := range a.readers {
		r.release()
	}
	if err := a.db.Update(fn); err != nil {
		return err
	}
	if after != nil {
		after()
	}
	return nil
}

// DeleteSession drops a session's scan cache and lock records. Call it only
// once every lock of the session is released: the records are what undoes
// them.
func (a *Agent) DeleteSession(session string) error {
	err := a.update(func(tx *bolt.Tx) error {
		if err := deleteSub(tx, bucketCache, session); err != nil {
			return err
		}
		if err := deleteSub(tx, bucketSigs, session); err != nil {
			return err
		}
		if err := deleteSub(tx, bucketJournal, session); err != nil {
			return err
		}
		if err := deleteSub(tx, bucketOrphans, session); err != nil {
			return err
		}
		return deleteSub(tx, bucketLocks, session)
	}, nil)
	if err != nil {
		return fmt.Errorf("store: delete agent session %s: %w", session, err)
	}
	return nil
}

// LockRecord journals a lock an agent applies to its copy of a file: the
// identity of the file and the original permission bits and flags to restore.
// It is written before the lock is applied.
type LockRecord struct {
	Session string `json:"session"`
	// Root is the watch-set root the lock was taken on, as the session's
	// attachment named it: what an agent opens to undo the lock when the
	// session is no longer attached (stopped or deleted while the host was
	// away). Empty in records written before roots were journaled; those
	// are undone only when the session attaches the host again.
	Root   string    `json:"root,omitempty"`
	Path   string    `json:"path"`
	Dev    uint64    `json:"dev"`
	Ino    uint64    `json:"ino"`
	Gen    uint64    `json:"gen"`   // inode generation: inode numbers are reused
	Mode   uint32    `json:"mode"`  // original mode bits
	Flags  uint32    `json:"flags"` // original inode flags (FS_IOC_GETFLAGS)
	Holder string    `json:"holder,omitempty"`
	Since  time.Time `json:"since"`
	// LockFile is the application lock file written beside the file, if any.
	LockFile string `json:"lock_file,omitempty"`
	// Orphaned is, for a lock orphan (PutOrphans), when its lock was
	// released without its copy at its path.
	Orphaned time.Time `json:"orphaned,omitzero"`
}

// PutLocks journals lock records in one transaction, replacing those of the
// same session and path.
func (a *Agent) PutLocks(recs ...LockRecord) error {
	return a.putRecords(bucketLocks, "lock", recs)
}

// PutOrphans journals lock orphans, replacing those of the same session
// and path: locks released while their copy was not at its path (a user
// renamed its folder, and the agent had not seen it yet), whose journaled
// mode and flags still wait to go back onto the copy wherever it is found
// (sync/lock/orphan.go). They are kept apart from the locks, which they no
// longer are: a new lock of the same path does not replace one.
func (a *Agent) PutOrphans(recs ...LockRecord) error {
	return a.putRecords(bucketOrphans, "lock orphan", recs)
}

// DeleteOrphans removes lock orphans; missing ones are ignored.
func (a *Agent) DeleteOrphans(session string, paths ...string) error {
	return a.deleteRecords(bucketOrphans, "lock orphans", session, paths)
}

// Orphans returns the lock orphans of a session, or of every session when
// session is "", ordered by session and path.
func (a *Agent) Orphans(session string) ([]LockRecord, error) {
	return a.records(bucketOrphans, "lock orphans", session)
}

func (a *Agent) putRecords(bucket []byte, what string, recs []LockRecord) error {
	for _, r := range recs {
		if err := wire.CheckName("session", r.Session); err != nil {
			return fmt.Errorf("store: put %s: %w", what, err)
		}
		if err := wire.CheckPath(r.Path); err != nil {
			return fmt.Errorf("store: put %s in %s: %w", what, r.Session, err)
		}
	}
	err := a.update(func(tx *bolt.Tx) error {
		for _, r := range recs {
			b, err := tx.Bucket(bucket).CreateBucketIfNotExists([]byte(r.Session))
			if err != nil {
				return err
			}
			if err := putJSON(b, []byte(r.Path), r); err != nil {
				return fmt.Errorf("%s %s: %w", r.Session, r.Path, err)
			}
		}
		return nil
	}, nil)
	if err != nil {
		return fmt.Errorf("store: put %ss: %w", what, err)
	}
	return nil
}

// DeleteLocks removes lock records once their locks are released; absent
// ones are ignored.
func (a *Agent) DeleteLocks(session string, paths ...string) error {
	return a.deleteRecords(bucketLocks, "locks", session, paths)
}

func (a *Agent) deleteRecords(bucket []byte, what, session string, paths []string) error {
	err := a.update(func(tx *bolt.Tx) error {
		b := subBucket(tx, bucket, session)
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
	}, nil)
	if err != nil {
		return fmt.Errorf("store: delete %s %s: %w", what, session, err)
	}
	return nil
}

// Lock returns the lock record of a path, or an error wrapping ErrNotFound.
func (a *Agent) Lock(session, path string) (LockRecord, error) {
	var r LockRecord
	err := a.db.View(func(tx *bolt.Tx) error {
		ok, err := getJSON(subBucket(tx, bucketLocks, session), []byte(path), &r)
		if err == nil && !ok {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return LockRecord{}, fmt.Errorf("store: lock %s %s: %w", session, path, err)
	}
	return r, nil
}

// Locks returns the lock records of a session, or of every session when
// session is "" (what an agent undoes at start-up), ordered by session and
// path.
func (a *Agent) Locks(session string) ([]LockRecord, error) {
	return a.records(bucketLocks, "locks", session)
}

func (a *Agent) records(bucket []byte, what, session string) ([]LockRecord, error) {
	var out []LockRecord
	err := a.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEachBucket(func(name []byte) error {
			if session != "" && string(name) != session {
				return nil
			}
			b := tx.Bucket(bucket).Bucket(name)
			return b.ForEach(func(k, _ []byte) error {
				var r LockRecord
				_, err := getJSON(b, k, &r)
				out = append(out, r)
				return err
			})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: %s %s: %w", what, session, err)
	}
	return out, nil
}
