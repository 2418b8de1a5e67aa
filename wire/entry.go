package wire

import (
	"encoding/hex"
	"fmt"
	"io/fs"
)

// EntryKind says what a path is on a host.
type EntryKind uint8

const (
	KindFile EntryKind = 1
	KindDir  EntryKind = 2
)

func (k EntryKind) String() string {
	switch k {
	case KindFile:
		return "file"
	case KindDir:
		return "dir"
	}
	return fmt.Sprintf("entrykind(%d)", k)
}

// HashSize is the length of a content hash (SHA-256).
const HashSize = 32

// Hash is the SHA-256 of a file's content. The zero Hash means "unknown" and
// is what folders carry.
type Hash [HashSize]byte

func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// IsZero reports whether h is the zero (unknown) hash.
func (h Hash) IsZero() bool { return h == Hash{} }

// MarshalText encodes h as lowercase hex.
func (h Hash) MarshalText() ([]byte, error) {
	b := make([]byte, 2*HashSize)
	hex.Encode(b, h[:])
	return b, nil
}

// UnmarshalText decodes lowercase or uppercase hex of exactly HashSize bytes.
func (h *Hash) UnmarshalText(b []byte) error {
	if len(b) != 2*HashSize {
		return fmt.Errorf("hash: want %d hex digits, got %d", 2*HashSize, len(b))
	}
	if _, err := hex.Decode(h[:], b); err != nil {
		return fmt.Errorf("hash: %w", err)
	}
	return nil
}

// Entry is one path of a host's watch set as a scan saw it.
type Entry struct {
	Path  string    `json:"p"`
	Kind  EntryKind `json:"k"`
	Size  int64     `json:"s,omitempty"`
	Mtime int64     `json:"m"`          // modification time, Unix nanoseconds
	Mode  uint32    `json:"o"`          // permission bits only (fs.ModePerm)
	Hash  Hash      `json:"h,omitzero"` // zero for folders
}

// Validate checks an entry decoded from the wire.
func (e *Entry) Validate() error {
	if err := CheckPath(e.Path); err != nil {
		return err
	}
	switch e.Kind {
	case KindFile:
		if e.Size < 0 {
			return fmt.Errorf("entry %s: negative size %d", e.Path, e.Size)
		}
	case KindDir:
		if e.Size != 0 || !e.Hash.IsZero() {
			return fmt.Errorf("entry %s: a folder has no size or hash", e.Path)
		}
	default:
		return fmt.Errorf("entry %s: unknown kind %d", e.Path, e.Kind)
	}
	if e.Mode&^uint32(fs.ModePerm) != 0 {
		return fmt.Errorf("entry %s: mode %o has bits beyond the permission bits", e.Path, e.Mode)
	}
	return nil
}

// SameContent reports whether a and b hold the same thing: both folders, or
// both files with equal size and hash.
func (e Entry) SameContent(o Entry) bool {
	if e.Kind != o.Kind {
		return false
	}
	return e.Kind == KindDir || (e.Size == o.Size && e.Hash == o.Hash)
}
