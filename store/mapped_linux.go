package store

import (
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// releaseMapped drops from the process's resident set the pages of db's
// file that tx's reads brought in through bbolt's memory map, as a walk or
// a rewrite of a whole index goes (issue 13, point 5: at ten million paths
// that is over a gigabyte of hub.db counted as the hub's memory). The map is read-only
// and shared, so the pages stay in the page cache and the next read of
// them is a minor fault; nothing is lost, and what tx still points at
// reads the same. It must run inside tx: a read transaction holds bbolt's
// map in place (a remap waits for it), and only a write transaction's own
// commit remaps, so the range is bbolt's map and nothing else. An error
// only leaves the pages resident.
func releaseMapped(db *bolt.DB, tx *bolt.Tx) {
	_, _, _ = unix.Syscall(unix.SYS_MADVISE, db.Info().Data, uintptr(tx.Size()), unix.MADV_DONTNEED)
}
