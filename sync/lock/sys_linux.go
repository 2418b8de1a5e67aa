//go:build linux

package lock

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/peerlink/peerlink/sync/tree"
)

// identify reads what a lock needs of the open file f.
func identify(f *os.File) (ident, error) {
	var st unix.Stat_t
	if err := tree.WithFd(f, func(fd int) error { return unix.Fstat(fd, &st) }); err != nil {
		return ident{}, &fs.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	id := ident{dev: uint64(st.Dev), ino: uint64(st.Ino), mode: st.Mode & modeBits, gen: genUnknown}
	if g, err := tree.Generation(f); err == nil {
		id.gen = g
	}
	if fl, err := tree.Flags(f); err == nil {
		id.flags, id.flagsOK = fl, true
	}
	return id, nil
}

// fchmod sets f's mode bits (modeBits: setuid, setgid and sticky too).
func fchmod(f *os.File, mode uint32) error {
	if err := tree.WithFd(f, func(fd int) error { return unix.Fchmod(fd, mode) }); err != nil {
		return &fs.PathError{Op: "chmod", Path: f.Name(), Err: err}
	}
	return nil
}

func setFlags(f *os.File, flags uint32) error { return tree.SetFlags(f, flags) }

// flagRefused says that setting the immutable flag failed because this
// file system or this process cannot do it at all: no CAP_LINUX_IMMUTABLE
// (EPERM), or a file system without the flag.
func flagRefused(err error) bool {
	for _, e := range []error{unix.EPERM, unix.EACCES, unix.ENOTTY, unix.EOPNOTSUPP, unix.EINVAL, unix.ENOSYS} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// writeOpen reports whether the file open as f is open for writing by
// anyone, by taking a read lease on f and giving it back at once: the
// kernel refuses a read lease with EAGAIN exactly when the file is open
// for writing (or a writable shared mapping of it exists), and, rarely,
// when another process holds a write lease on it (Samba with kernel
// oplocks on). A write lease would not do: it is refused whenever anyone
// else has the file open at all, reading included. Where a lease cannot be
// taken (not the file's owner and no CAP_LEASE, leases disabled with
// fs.leases-enable=0, a file system without leases) it scans /proc
// instead, unless noLease already said so.
//
// Holding the lease for those few microseconds makes a concurrent
// write-open wait for the lease's release, not fail.
func writeOpen(f *os.File, id ident, noLease bool) (bool, error) {
	if !noLease {
		err := tree.WithFd(f, func(fd int) error {
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_RDLCK); err != nil {
				return err
			}
			_, err := unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, unix.F_UNLCK)
			return err
		})
		switch err {
		case nil:
			return false, nil
		case unix.EAGAIN:
			return true, nil
		}
	}
	return procWriteOpen(id.dev, id.ino)
}

// procWriteOpen scans every process's open files (/proc/PID/fd) for the
// file dev/ino open for writing (/proc/PID/fdinfo/FD's flags), the agent's
// own included. It costs a stat per open descriptor on the machine. As
// root it sees every process; otherwise only the agent user's, and it
// fails with a permission error if it could not look everywhere. Writers
// inside the kernel (nfsd, ksmbd) hold no descriptor and are not seen.
func procWriteOpen(dev, ino uint64) (bool, error) {
	pids, err := readNames("/proc")
	if err != nil {
		return false, err
	}
	var denied error
	for _, pid := range pids {
		if pid == "" || pid[0] < '0' || pid[0] > '9' {
			continue
		}
		fdDir := "/proc/" + pid + "/fd"
		fds, err := readNames(fdDir)
		if err != nil {
			if errors.Is(err, fs.ErrPermission) && denied == nil {
				denied = err
			}
			continue // gone, or not ours to see
		}
		for _, fd := range fds {
			var st unix.Stat_t
			if unix.Stat(fdDir+"/"+fd, &st) != nil || uint64(st.Dev) != dev || uint64(st.Ino) != ino {
				continue
			}
			info, err := os.ReadFile("/proc/" + pid + "/fdinfo/" + fd)
			if err != nil {
				continue // closed meanwhile
			}
			if flags, ok := fdinfoFlags(info); ok && flags&unix.O_ACCMODE != unix.O_RDONLY {
				return true, nil
			}
		}
	}
	if denied != nil {
		return false, denied
	}
	return false, nil
}

// fdinfoFlags parses the "flags:" line of /proc/PID/fdinfo/FD (octal).
func fdinfoFlags(info []byte) (int, bool) {
	for line := range bytes.SplitSeq(info, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("flags:")); ok {
			n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 8, 64)
			return int(n), err == nil
		}
	}
	return 0, false
}

func readNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

// removeFile removes the file path below t's root, never a folder.
func removeFile(t *tree.Tree, path string) error { return t.RemoveFile(path) }

// inodeOf returns the device and inode number of info.
func inodeOf(info fs.FileInfo) (dev, ino uint64, ok bool) {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return uint64(st.Dev), st.Ino, true
}
