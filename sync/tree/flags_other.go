//go:build !linux || tree_portable

package tree

import (
	"errors"
	"io/fs"
	"os"
)

// Outside Linux there are no inode flags and no inode generations here:
// macOS's chflags(2) and Windows' attributes do not have the semantics a
// lock relies on (immutable even to root, checked on rename over the
// file), so a lock there is the removed write bits and the application's
// lock file, and sync/lock says so. Each function fails with an error that
// errors.Is(errors.ErrUnsupported) and names the file.

// Flags reports that inode flags are not supported on this system.
func Flags(f *os.File) (uint32, error) {
	return 0, &fs.PathError{Op: "getflags", Path: f.Name(), Err: errors.ErrUnsupported}
}

// SetFlags reports that inode flags are not supported on this system; it
// changes nothing.
func SetFlags(f *os.File, flags uint32) error {
	return &fs.PathError{Op: "setflags", Path: f.Name(), Err: errors.ErrUnsupported}
}

// Generation reports that inode generations are not supported on this
// system: a file is identified by device and inode number alone.
func Generation(f *os.File) (uint64, error) {
	return 0, &fs.PathError{Op: "getversion", Path: f.Name(), Err: errors.ErrUnsupported}
}
