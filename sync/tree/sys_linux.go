//go:build !tree_portable

package tree

import (
	"encoding/binary"
	"io/fs"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// noOpenat2 is set once openat2(2) turned out to be missing (Linux before
// 5.6, or refused by a seccomp filter): folders are opened through the
// os.Root from then on.
var noOpenat2 atomic.Bool

// openBeneath opens the folder rel with one openat2(RESOLVE_BENEATH): the
// kernel refuses any resolution that leaves the root, ".." or symlinks
// included, which is the guarantee os.Root gives with a system call per
// path element and an *os.File. Where openat2 is missing it uses the
// os.Root.
func (t *Tree) openBeneath(rel string) (folder, error) {
	if !noOpenat2.Load() {
		how := unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS}
		var nfd int
		err := WithFd(t.top, func(fd int) error {
			var err error
			for try := 0; ; try++ {
				// EAGAIN: a rename raced with the resolution; EINTR: a signal.
				nfd, err = unix.Openat2(fd, rel, &how)
				if (err != unix.EAGAIN && err != unix.EINTR) || try == 8 {
					return err
				}
			}
		})
		switch err {
		case nil:
			return folder{fd: nfd, raw: true, owned: true}, nil
		case unix.ENOSYS, unix.EPERM:
			noOpenat2.Store(true)
		default:
			return folder{}, &fs.PathError{Op: "openat", Path: rel, Err: err}
		}
	}
	return t.openInRoot(rel)
}

// oNoatime keeps reads from updating a file's access time. The kernel allows
// it only to the file's owner or a process with CAP_FOWNER; OpenRead retries
// without it on EPERM.
const oNoatime = unix.O_NOATIME

// renameNoReplace renames without ever replacing newname, in one atomic
// renameat2(RENAME_NOREPLACE). File systems that do not support the flag
// (EINVAL) get a check then a plain rename, which leaves a window of a few
// microseconds in which a file created by someone else could be replaced.
func renameNoReplace(olddir int, oldname string, newdir int, newname string) error {
	err := unix.Renameat2(olddir, oldname, newdir, newname, unix.RENAME_NOREPLACE)
	if err != unix.EINVAL && err != unix.ENOSYS {
		return err
	}
	return checkThenRename(olddir, oldname, newdir, newname)
}

// readEntries lists the folder open as fd with getdents64, taking each
// entry's type from the listing (d_type) so that no stat is needed to tell
// folders from files; only file systems that leave d_type unknown cost a
// stat per entry.
func readEntries(fd int, buf []byte) ([]DirEntry, error) {
	var out []DirEntry
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return out, err
		}
		if n <= 0 {
			return out, nil
		}
		// struct linux_dirent64 { u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
		for b := buf[:n]; len(b) >= 19; {
			reclen := int(binary.NativeEndian.Uint16(b[16:18]))
			if reclen < 19 || reclen > len(b) {
				break
			}
			typ, name := b[18], b[19:reclen]
			b = b[reclen:]
			for i, c := range name {
				if c == 0 {
					name = name[:i]
					break
				}
			}
			if string(name) == "." || string(name) == ".." {
				continue
			}
			e := DirEntry{Name: string(name)}
			switch typ {
			case unix.DT_REG:
			case unix.DT_DIR:
				e.Type = fs.ModeDir
			case unix.DT_LNK:
				e.Type = fs.ModeSymlink
			case unix.DT_FIFO:
				e.Type = fs.ModeNamedPipe
			case unix.DT_SOCK:
				e.Type = fs.ModeSocket
			case unix.DT_CHR:
				e.Type = fs.ModeDevice | fs.ModeCharDevice
			case unix.DT_BLK:
				e.Type = fs.ModeDevice
			default:
				var st unix.Stat_t
				if err := unix.Fstatat(fd, e.Name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
					continue // gone since the listing
				}
				e.Type = typeOf(uint32(st.Mode))
			}
			out = append(out, e)
		}
	}
}

// haveSyncfs says that Sync can make every staged file durable with one
// syncfs(2), so a Commit with DeferSync skips its own fsync.
const haveSyncfs = true

func syncfs(fd int) error { return unix.Syncfs(fd) }
