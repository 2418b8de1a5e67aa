package store

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/peerlink/peerlink/wire"
)

// bucketSigs holds, per session and path, the delta signature (span list,
// sync/delta) of a file version, beside the scan cache's record of it.
var bucketSigs = []byte("sigs")

// Signature is the span list of one version of a file, as sync/delta
// encodes it, with the stat fields that must all be unchanged for it to
// describe the file (as a Cached record's hash).
type Signature struct {
	Size  int64
	Mtime int64
	Ctime int64
	Ino   uint64
	Spans []byte
}

// Holds reports whether the signature describes the file whose state is
// that cached record.
func (s Signature) Holds(c Cached) bool {
	return s.HoldsBasis(c) && s.Ctime == c.Ctime
}

// HoldsBasis is Holds without the change time: the signature was taken of the
// same inode at the same size and modification time, and the file's
// metadata may have changed since (a lock's chmod and immutable flag, and
// their undoing, change the ctime and nothing else). Good enough for a
// delta's basis, whose rebuilt file is checked against the whole-file hash
// anyway: a basis whose content changed without its mtime costs that
// delta, never a wrong file.
func (s Signature) HoldsBasis(c Cached) bool {
	return s.Size == c.Size && s.Mtime == c.Mtime && s.Ino == c.Ino
}

// PathSignature is a signature with its path, for PutSignatures.
type PathSignature struct {
	Path string
	Signature
}

const sigHeader = 32

// PutSignatures records signatures of a session's files in one transaction,
// replacing those of the same paths.
func (a *Agent) PutSignatures(session string, sigs []PathSignature) error {
	if err := wire.CheckName("session", session); err != nil {
		return fmt.Errorf("store: signatures: %w", err)
	}
	for _, s := range sigs {
		if err := wire.CheckPath(s.Path); err != nil {
			return fmt.Errorf("store: signatures %s: %w", session, err)
		}
	}
	err := a.update(func(tx *bolt.Tx) error {
		b, err := tx.Bucket(bucketSigs).CreateBucketIfNotExists([]byte(session))
		if err != nil {
			return err
		}
		for _, s := range sigs {
			v := make([]byte, sigHeader, sigHeader+len(s.Spans))
			binary.BigEndian.PutUint64(v[0:], uint64(s.Size))
			binary.BigEndian.PutUint64(v[8:], uint64(s.Mtime))
			binary.BigEndian.PutUint64(v[16:], uint64(s.Ctime))
			binary.BigEndian.PutUint64(v[24:], s.Ino)
			if err := b.Put([]byte(s.Path), append(v, s.Spans...)); err != nil {
				return fmt.Errorf("%s: %w", s.Path, err)
			}
		}
		return nil
	}, nil)
	if err != nil {
		return fmt.Errorf("store: signatures %s: %w", session, err)
	}
	return nil
}

// Signature returns the recorded signature of a session's file.
func (a *Agent) Signature(session, path string) (Signature, bool) {
	var s Signature
	var ok bool
	_ = a.db.View(func(tx *bolt.Tx) error {
		b := subBucket(tx, bucketSigs, session)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(path))
		if len(v) < sigHeader {
			return nil
		}
		s = Signature{Size: int64(binary.BigEndian.Uint64(v[0:])), Mtime: int64(binary.BigEndian.Uint64(v[8:])),
			Ctime: int64(binary.BigEndian.Uint64(v[16:])), Ino: binary.BigEndian.Uint64(v[24:]),
			Spans: append([]byte(nil), v[sigHeader:]...)}
		ok = true
		return nil
	})
	return s, ok
}

// deleteSignatures drops the signatures of removed paths, in tx.
func deleteSignatures(tx *bolt.Tx, session string, removed []string) error {
	b := subBucket(tx, bucketSigs, session)
	if b == nil {
		return nil
	}
	for _, p := range removed {
		if p == "" {
			continue
		}
		if err := b.Delete([]byte(p)); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}
