//go:build linux

package tree

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"

	"github.com/peerlink/peerlink/wire"
)

// Inode flags and identity of a file opened through the Tree, and removal
// of a single file: what sync/lock needs to lock a copy. Open the file with
// OpenRead (read-only, never through a symlink) and pass it here, so that
// every step acts on the one inode that was checked, whatever happens to
// the path meanwhile.

// Inode flags (FS_IOC_GETFLAGS, as chattr(1) shows them) that x/sys/unix
// does not name. With FlagImmutable set nobody, root included, may write,
// truncate, rename, unlink, link, chmod or chown the file; with FlagAppend
// only appending is allowed. Setting or clearing either needs
// CAP_LINUX_IMMUTABLE.
const (
	FlagImmutable uint32 = 0x00000010 // FS_IMMUTABLE_FL, chattr +i
	FlagAppend    uint32 = 0x00000020 // FS_APPEND_FL, chattr +a
	FlagNodump    uint32 = 0x00000040 // FS_NODUMP_FL, chattr +d
)

// fsIocGetversion is FS_IOC_GETVERSION, _IOR('v', 1, long), which x/sys/unix
// lacks. FS_IOC_GETFLAGS is _IOR('f', 1, long): the same direction, size and
// number on every architecture, so only the type byte differs.
const fsIocGetversion = unix.FS_IOC_GETFLAGS&^(0xff<<8) | 'v'<<8

// Flags returns the inode flags of f (FS_IOC_GETFLAGS). File systems
// without inode flags fail with ENOTTY, EOPNOTSUPP or EINVAL.
func Flags(f *os.File) (uint32, error) {
	var flags uint32
	err := withFd(f, func(fd int) error {
		var err error
		flags, err = unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
		return err
	})
	if err != nil {
		return 0, &fs.PathError{Op: "getflags", Path: f.Name(), Err: err}
	}
	return flags, nil
}

// SetFlags sets the inode flags of f (FS_IOC_SETFLAGS); f may be open
// read-only. Changing FlagImmutable or FlagAppend without
// CAP_LINUX_IMMUTABLE fails with EPERM, as does any change by a process
// that neither owns the file nor has CAP_FOWNER.
func SetFlags(f *os.File, flags uint32) error {
	err := withFd(f, func(fd int) error { return unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(int32(flags))) })
	if err != nil {
		return &fs.PathError{Op: "setflags", Path: f.Name(), Err: err}
	}
	return nil
}

// Generation returns the inode generation of f (FS_IOC_GETVERSION). Inode
// numbers are reused once a file is deleted; the generation changes when
// they are, so device, inode number and generation together name one file
// for as long as the file system lives. ext4, xfs and btrfs have it; tmpfs
// and most network file systems fail with ENOTTY.
func Generation(f *os.File) (uint64, error) {
	var gen uint32
	err := withFd(f, func(fd int) error {
		var err error
		gen, err = unix.IoctlGetUint32(fd, fsIocGetversion)
		return err
	})
	if err != nil {
		return 0, &fs.PathError{Op: "getversion", Path: f.Name(), Err: err}
	}
	return uint64(gen), nil
}

// RemoveFile removes path if it is not a folder: a file, or a symlink as
// itself (unlinkat without AT_REMOVEDIR, which refuses a folder with
// EISDIR). A path that does not exist is not an error.
func (t *Tree) RemoveFile(path string) error {
	d, base, err := t.parent(path, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // its folder is gone, and it with it
	}
	if err != nil {
		return err
	}
	defer d.close()
	err = d.do(func(fd int) error { return unix.Unlinkat(fd, base, 0) })
	switch err {
	case nil:
		t.markDirty(wire.Parent(path))
		return nil
	case unix.ENOENT:
		return nil
	}
	return &fs.PathError{Op: "remove", Path: path, Err: err}
}
