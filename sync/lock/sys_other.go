//go:build !linux

package lock

import (
	"errors"
	"io/fs"
	"os"

	"github.com/peerlink/peerlink/sync/tree"
)

// Outside Linux a lock is the removed write bits and the lock files: there
// are no inode flags or generations here, and no way to tell that a file
// is open for writing (no leases, no /proc), so Lock never refuses a
// busy file.

var errNoFlags = errors.New("inode flags are not supported on this system")

func identify(f *os.File) (ident, error) {
	info, err := tree.Stat(f)
	if err != nil {
		return ident{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		return ident{}, err
	}
	mode := uint32(fi.Mode().Perm())
	for _, b := range specialBits {
		if fi.Mode()&b.mode != 0 {
			mode |= b.bits
		}
	}
	return ident{dev: info.Dev, ino: info.Ino, mode: mode, gen: genUnknown}, nil
}

var specialBits = []struct {
	mode fs.FileMode
	bits uint32
}{{fs.ModeSetuid, 0o4000}, {fs.ModeSetgid, 0o2000}, {fs.ModeSticky, 0o1000}}

func fchmod(f *os.File, mode uint32) error {
	m := fs.FileMode(mode & 0o777)
	for _, b := range specialBits {
		if mode&b.bits != 0 {
			m |= b.mode
		}
	}
	return f.Chmod(m)
}

func setFlags(*os.File, uint32) error { return errNoFlags } // not called: flagsOK is never set

func flagRefused(err error) bool { return errors.Is(err, errNoFlags) }

func writeOpen(*os.File, ident, bool) (bool, error) { return false, nil }

// removeFile removes the file path below t's root, never a folder.
func removeFile(t *tree.Tree, path string) error { return t.RemoveFile(path) }

// inodeOf: no inode numbers to compare here, so a copy moved while
// nobody watched is not found.
func inodeOf(fs.FileInfo) (dev, ino uint64, ok bool) { return 0, 0, false }
