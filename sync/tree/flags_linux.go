//go:build !tree_portable

package tree

import (
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// fsIocGetversion is FS_IOC_GETVERSION, _IOR('v', 1, long), which x/sys/unix
// lacks. FS_IOC_GETFLAGS is _IOR('f', 1, long): the same direction, size and
// number on every architecture, so only the type byte differs.
const fsIocGetversion = unix.FS_IOC_GETFLAGS&^(0xff<<8) | 'v'<<8

// Flags returns the inode flags of f (FS_IOC_GETFLAGS). File systems
// without inode flags fail with ENOTTY, EOPNOTSUPP or EINVAL.
func Flags(f *os.File) (uint32, error) {
	var flags uint32
	err := WithFd(f, func(fd int) error {
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
	err := WithFd(f, func(fd int) error { return unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(int32(flags))) })
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
	err := WithFd(f, func(fd int) error {
		var err error
		gen, err = unix.IoctlGetUint32(fd, fsIocGetversion)
		return err
	})
	if err != nil {
		return 0, &fs.PathError{Op: "getversion", Path: f.Name(), Err: err}
	}
	return uint64(gen), nil
}
