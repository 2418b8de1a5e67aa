//go:build !linux

package store

import bolt "go.etcd.io/bbolt"

// releaseMapped does nothing here: the pages a walk of a whole index read
// through bbolt's memory map stay in the resident set until the kernel
// wants them back (see mapped_linux.go).
func releaseMapped(*bolt.DB, *bolt.Tx) {}
