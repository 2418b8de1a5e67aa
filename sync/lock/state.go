package lock

import (
	"strings"

	"github.com/peerlink/peerlink/store"
)

// Holder is who holds a file: the host whose user opened it for writing,
// and that user when the host knows it. Lock files name them both.
type Holder struct {
	Host, User string
}

// String is the holder as journaled in store.LockRecord.Holder:
// "user@host", or "@host" when the user is unknown. A host name holds no
// '@', so the last one splits them.
func (h Holder) String() string { return h.User + "@" + h.Host }

// parseHolder reverses String.
func parseHolder(s string) Holder {
	i := strings.LastIndexByte(s, '@')
	if i < 0 {
		return Holder{Host: s}
	}
	return Holder{User: s[:i], Host: s[i+1:]}
}

// display is the name lock files show to a local user: "alice on hostA".
func (h Holder) display() string {
	user := h.User
	if user == "" {
		user = "a user"
	}
	return user + " on " + h.Host
}

// The inode flags a lock sets or must step around (tree.FlagImmutable and
// tree.FlagAppend, named here too for the builds without them).
const (
	flagImmutable uint32 = 0x10 // FS_IMMUTABLE_FL
	flagAppend    uint32 = 0x20 // FS_APPEND_FL
)

// Sentinels journaled where the file system could not say: no generation
// is 32 bits wide and no inode flag has bit 31 set (FS_RESERVED_FL, which
// the kernel never reports), so neither can be mistaken for a real value.
const (
	genUnknown   uint64 = 1 << 32
	flagsUnknown uint32 = 1 << 31
)

// modeBits are the bits of st_mode a lock records and restores: the
// permission bits and setuid, setgid and sticky.
const modeBits = 0o7777

// ident is what a Locker reads of an open file: its identity and the
// state a lock changes.
type ident struct {
	dev, ino uint64
	gen      uint64 // genUnknown: the file system has no generation
	mode     uint32 // modeBits of st_mode
	flags    uint32
	flagsOK  bool // the file system has inode flags (FS_IOC_GETFLAGS works)
}

// recFlags is the flags value a lock record holds for id.
func (id ident) recFlags() uint32 {
	if !id.flagsOK {
		return flagsUnknown
	}
	return id.flags
}

// match says whether id is the file rec was journaled for: same device,
// inode number and, where the file system has one, generation. unsure is
// set when rec has a generation and it cannot be read now: the caller must
// then neither restore onto the file nor forget the record.
func match(rec store.LockRecord, id ident) (same, unsure bool) {
	if rec.Dev != id.dev || rec.Ino != id.ino {
		return false, false
	}
	switch {
	case rec.Gen == genUnknown:
		return true, false
	case id.gen == genUnknown:
		return false, true
	}
	return rec.Gen == id.gen, false
}

// lockedState is the mode and flags a lock gives a file that had mode and
// flags (flagsUnknown: the file system has none) when it was locked, with
// immutable saying whether the immutable flag may be set. A file that was
// immutable already is left as it is: nobody can change it, and neither
// can its mode be changed.
func lockedState(mode, flags uint32, immutable bool) (uint32, uint32) {
	if flags == flagsUnknown {
		return mode &^ 0o222, flags
	}
	if flags&flagImmutable != 0 {
		return mode, flags
	}
	if immutable {
		flags |= flagImmutable
	}
	return mode &^ 0o222, flags
}
