package store

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/peerlink/peerlink/wire"
)

// The change journal of an agent's session (issue 14, item 3): the paths
// that changed on this host since the hub last confirmed the host caught
// up, so that its next catch-up rescans those paths only, not the whole
// root. It is kept durably so that what it says survives the agent (a
// restart finds it, and marks it incomplete: see the agent's journaler
// for why), and it is bounded: past JournalMax paths, or when the watcher
// lost events, it says "everything" instead, and the catch-up rescans the
// whole root.
//
// Every record carries a sequence number. A catch-up's scan notes the
// number it read the journal at; once the hub has merged that scan and
// the host is live again, it has the agent clear the journal up to that
// number: what was recorded after (changes since the scan) stays for the
// next catch-up.
//
// Layout: journal/SESSION/PATH -> seq (8 bytes, big endian), and
// journal/SESSION/"\x00seq" -> the last seq given, "\x00n" -> how many
// paths, "\x00all" -> seq, then the reason everything must be rescanned.
// No path holds a NUL.

var bucketJournal = []byte("journal")

var (
	keyJournalSeq = []byte("\x00seq")
	keyJournalN   = []byte("\x00n")
	keyJournalAll = []byte("\x00all")
)

// JournalMax is how many paths a session's journal holds before it says
// "everything" instead: beyond, a full rescan (with the scan cache, which
// reads no unchanged file) costs about as much as scanning them one by one.
const JournalMax = 100_000

// Journal is what a session's change journal says.
type Journal struct {
	// Seq is the last sequence number given: what a clear up to it drops.
	Seq uint64
	// All is set when the journal cannot name what changed (it overflowed,
	// the watcher lost events or was not running): Reason says why.
	All    bool
	Reason string
	// Paths changed, files or folders (a folder stands for everything
	// below it), in byte order.
	Paths []string
}

// JournalNote records that paths changed in session. Past max paths (0:
// JournalMax) the journal says everything changed.
func (a *Agent) JournalNote(session string, paths []string, max int) error {
	if max <= 0 {
		max = JournalMax
	}
	for _, p := range paths {
		if err := wire.CheckPath(p); err != nil {
			return fmt.Errorf("store: journal %s: %w", session, err)
		}
	}
	err := a.update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketJournal).CreateBucketIfNotExists([]byte(session))
		if err != nil {
			return err
		}
		seq := getUint(b, keyJournalSeq) + 1
		if err := putUint(b, keyJournalSeq, seq); err != nil {
			return err
		}
		// Named even when the journal says everything: a clear up to that
		// mark leaves what came after it.
		n := getUint(b, keyJournalN)
		for _, p := range paths {
			if b.Get([]byte(p)) == nil {
				n++
			}
			if n > uint64(max) {
				return setAll(b, seq, fmt.Sprintf("more than %d paths changed", max))
			}
			if err := putUint(b, []byte(p), seq); err != nil {
				return err
			}
		}
		return putUint(b, keyJournalN, n)
	}, nil)
	if err != nil {
		return fmt.Errorf("store: journal %s: %w", session, err)
	}
	return nil
}

// JournalAll records that anything may have changed in session, for
// reason: the next catch-up rescans the whole root.
func (a *Agent) JournalAll(session, reason string) error {
	err := a.update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketJournal).CreateBucketIfNotExists([]byte(session))
		if err != nil {
			return err
		}
		seq := getUint(b, keyJournalSeq) + 1
		if err := putUint(b, keyJournalSeq, seq); err != nil {
			return err
		}
		return setAll(b, seq, reason)
	}, nil)
	if err != nil {
		return fmt.Errorf("store: journal %s: %w", session, err)
	}
	return nil
}

// setAll makes b say "everything" as of seq: the paths it named no longer
// matter.
func setAll(b *bolt.Bucket, seq uint64, reason string) error {
	var paths [][]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if len(k) > 0 && k[0] != 0 {
			paths = append(paths, k)
		}
	}
	for _, k := range paths {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	if err := putUint(b, keyJournalN, 0); err != nil {
		return err
	}
	v := binary.BigEndian.AppendUint64(nil, seq)
	return b.Put(keyJournalAll, append(v, reason...))
}

// ReadJournal returns session's journal. A session with no journal yet
// has an empty, complete one: a caller that cannot vouch for the time
// before the journal was kept marks it (JournalAll) first.
func (a *Agent) ReadJournal(session string) (Journal, error) {
	var j Journal
	err := a.db.View(func(tx *bolt.Tx) error {
		b := subBucket(tx, bucketJournal, session)
		if b == nil {
			return nil
		}
		j.Seq = getUint(b, keyJournalSeq)
		if v := b.Get(keyJournalAll); len(v) >= 8 {
			j.All, j.Reason = true, string(v[8:])
			return nil
		}
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if len(k) > 0 && k[0] != 0 {
				j.Paths = append(j.Paths, string(k))
			}
		}
		return nil
	})
	if err != nil {
		return Journal{}, fmt.Errorf("store: read the journal of %s: %w", session, err)
	}
	return j, nil
}

// ClearJournal drops what session's journal recorded up to seq: the hub
// merged a scan that saw it. What came after stays.
func (a *Agent) ClearJournal(session string, seq uint64) error {
	err := a.update(func(tx *bolt.Tx) error {
		b := subBucket(tx, bucketJournal, session)
		if b == nil {
			return nil
		}
		if v := b.Get(keyJournalAll); len(v) >= 8 && binary.BigEndian.Uint64(v) <= seq {
			if err := b.Delete(keyJournalAll); err != nil {
				return err
			}
		}
		var drop [][]byte
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) > 0 && k[0] != 0 && len(v) == 8 && binary.BigEndian.Uint64(v) <= seq {
				drop = append(drop, k)
			}
		}
		for _, k := range drop {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n := getUint(b, keyJournalN)
		return putUint(b, keyJournalN, n-min(n, uint64(len(drop))))
	}, nil)
	if err != nil {
		return fmt.Errorf("store: clear the journal of %s: %w", session, err)
	}
	return nil
}

func getUint(b *bolt.Bucket, k []byte) uint64 {
	if v := b.Get(k); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

func putUint(b *bolt.Bucket, k []byte, n uint64) error {
	return b.Put(k, binary.BigEndian.AppendUint64(nil, n))
}
