//go:build unix && !tree_portable

package tree

// The Unix implementation: every last path element is handled with the *at
// system calls on its folder's descriptor, never following a symlink.
// sys_linux.go adds Linux's fast paths (openat2, getdents, syncfs,
// renameat2, O_NOATIME); sys_other.go the plain fallbacks for other Unix
// systems.

import (
	"io/fs"
	"os"
	"sync"

	"github.com/peerlink/peerlink/wire"
	"golang.org/x/sys/unix"
)

// oDirectory makes opening the root fail unless it is a folder.
const oDirectory = unix.O_DIRECTORY

// folder is an open folder of the tree; close releases it unless it is the
// Tree's own root descriptor. An owned folder is usually a bare descriptor
// (raw), used by one goroutine at a time: no *os.File to allocate, register
// and reference-count per file synchronised.
type folder struct {
	f     *os.File // the Tree's root descriptor, or a folder opened by os.Root
	fd    int      // the descriptor, when raw
	raw   bool
	owned bool
}

// rootFolder is the root itself, shared: never closed by close.
func (t *Tree) rootFolder() folder { return folder{f: t.top} }

func (d folder) close() { d.closeErr() }

func (d folder) closeErr() error {
	switch {
	case !d.owned:
		return nil
	case d.raw:
		return unix.Close(d.fd)
	default:
		return d.f.Close()
	}
}

func (d folder) do(fn func(fd int) error) error {
	switch {
	case d.raw:
		return fn(d.fd)
	case d.f != nil:
		return WithFd(d.f, fn)
	default:
		return unix.EBADF
	}
}

// The operations on one name in a folder. Their errors are bare (an
// errno), for the caller to wrap with the path it knows.

func (d folder) lstat(name string) (Info, error) {
	var st unix.Stat_t
	if err := d.do(func(fd int) error { return unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		return Info{}, err
	}
	return infoOf(&st), nil
}

// create makes a new file, write-only, mode 0600; it fails if name exists,
// even as a symlink.
func (d folder) create(name string) (*os.File, error) {
	var nfd int
	err := d.do(func(fd int) error {
		var err error
		nfd, err = unix.Openat(fd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		return err
	})
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(nfd), name), nil
}

// unlink removes name unless it is a folder (unlinkat without AT_REMOVEDIR
// refuses one); a symlink is removed as itself.
func (d folder) unlink(name string) error {
	return d.do(func(fd int) error { return unix.Unlinkat(fd, name, 0) })
}

// rename renames oldname to newname in this folder, replacing newname.
func (d folder) rename(oldname, newname string) error {
	return d.do(func(fd int) error { return unix.Renameat(fd, oldname, fd, newname) })
}

// renameNoReplace renames oldname to newname in this folder, never
// replacing newname (EEXIST).
func (d folder) renameNoReplace(oldname, newname string) error {
	return d.do(func(fd int) error { return renameNoReplace(fd, oldname, fd, newname) })
}

// setTimes sets the access and modification times of name, never through
// a symlink.
func (d folder) setTimes(name string, mtime int64) error {
	ts := []unix.Timespec{unix.NsecToTimespec(mtime), unix.NsecToTimespec(mtime)}
	return d.do(func(fd int) error { return unix.UtimesNanoAt(fd, name, ts, unix.AT_SYMLINK_NOFOLLOW) })
}

func (d folder) chmod(name string, mode uint32) error {
	return d.do(func(fd int) error { return chmodNoFollow(fd, name, mode) })
}

func (d folder) lchown(name string, uid, gid int) error {
	return d.do(func(fd int) error { return unix.Fchownat(fd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW) })
}

// fsyncFile makes the content of the regular file name durable.
func (d folder) fsyncFile(name string) error {
	return d.do(func(fd int) error {
		nfd, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		err = unix.Fsync(nfd)
		unix.Close(nfd)
		return err
	})
}

// sync makes the folder's entries durable.
func (d folder) sync() error { return d.do(unix.Fsync) }

// renameAcross renames od/oldname to nd/newname, never replacing anything.
func renameAcross(od folder, oldname string, nd folder, newname string) error {
	return od.do(func(ofd int) error {
		return nd.do(func(nfd int) error { return renameNoReplace(ofd, oldname, nfd, newname) })
	})
}

// linkAcross makes nd/newname a hard link to od/oldname.
func linkAcross(od folder, oldname string, nd folder, newname string) error {
	return od.do(func(ofd int) error {
		return nd.do(func(nfd int) error { return unix.Linkat(ofd, oldname, nfd, newname, 0) })
	})
}

// linkUnsupported says that linkat failed because no hard link can be made
// here, where a copy would do.
func linkUnsupported(err error) bool {
	return err == unix.EXDEV || err == unix.EPERM || err == unix.ENOTSUP || err == unix.EOPNOTSUPP || err == unix.EMLINK
}

// syncAll makes everything written on the root's file system durable, for
// Sync; called only where haveSyncfs.
func (t *Tree) syncAll() error { return WithFd(t.top, syncfs) }

// openInRoot opens the folder rel through the os.Root.
func (t *Tree) openInRoot(rel string) (folder, error) {
	f, err := t.root.OpenFile(rel, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return folder{}, err
	}
	return folder{f: f, owned: true}, nil
}

// OpenRead opens a regular file for reading. It asks for O_NOATIME so that
// syncing does not disturb what users see, falling back without it where the
// kernel refuses (a file the agent does not own, without CAP_FOWNER). It
// refuses a symlink, a folder or any special file with a KindInvalid error;
// O_NONBLOCK keeps a named pipe from blocking the open before that check.
func (t *Tree) OpenRead(path string) (*os.File, error) {
	d, base, err := t.parent(path, false)
	if err != nil {
		return nil, err
	}
	defer d.close()
	var nfd int
	err = d.do(func(fd int) error {
		flags := unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC
		var err error
		nfd, err = unix.Openat(fd, base, flags|oNoatime, 0)
		if err == unix.EPERM && oNoatime != 0 {
			nfd, err = unix.Openat(fd, base, flags, 0)
		}
		return err
	})
	if err == unix.ELOOP {
		return nil, &wire.Error{Kind: wire.KindInvalid, Path: path, Msg: "is a symbolic link, not a regular file"}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(nfd, &st); err != nil {
		unix.Close(nfd)
		return nil, &fs.PathError{Op: "fstat", Path: path, Err: err}
	}
	if i := infoOf(&st); i.Kind != wire.KindFile {
		unix.Close(nfd)
		return nil, &wire.Error{Kind: wire.KindInvalid, Path: path, Msg: "is a " + i.TypeString() + ", not a regular file"}
	}
	return os.NewFile(uintptr(nfd), t.dir+"/"+path), nil
}

// chmodNoFollow changes mode without following a symlink: fchmodat2 with
// AT_SYMLINK_NOFOLLOW where the kernel has it (Linux 6.6+), else a check that
// base is no symlink followed by fchmodat, which leaves the small window
// os.Root documents for its own Chmod.
func chmodNoFollow(fd int, base string, mode uint32) error {
	err := unix.Fchmodat(fd, base, mode, unix.AT_SYMLINK_NOFOLLOW)
	if err != unix.EOPNOTSUPP && err != unix.ENOSYS {
		return err
	}
	var st unix.Stat_t
	if err := unix.Fstatat(fd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return err
	}
	if typeOf(uint32(st.Mode)) == fs.ModeSymlink {
		return unix.ELOOP
	}
	return unix.Fchmodat(fd, base, mode, 0)
}

// checkThenRename renames oldname to newname after checking that newname
// does not exist: the fallback where no atomic no-replace rename exists.
func checkThenRename(olddir int, oldname string, newdir int, newname string) error {
	var st unix.Stat_t
	switch err := unix.Fstatat(newdir, newname, &st, unix.AT_SYMLINK_NOFOLLOW); err {
	case nil:
		return unix.EEXIST
	case unix.ENOENT:
	default:
		return err
	}
	return unix.Renameat(olddir, oldname, newdir, newname)
}

// rootDir gives a Dir on the root its own descriptor: the root's shared
// one has a file offset that listing would move.
func (t *Tree) rootDir() (folder, error) {
	var nfd int
	err := WithFd(t.top, func(fd int) error {
		var err error
		nfd, err = unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return folder{}, &fs.PathError{Op: "open", Path: t.dir, Err: err}
	}
	return folder{fd: nfd, raw: true, owned: true}, nil
}

// openDir opens the sub-folder name, refusing a symlink (ELOOP or ENOTDIR).
func (d folder) openDir(name string) (folder, error) {
	var nfd int
	err := d.do(func(fd int) error {
		var err error
		nfd, err = unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return folder{}, err
	}
	return folder{fd: nfd, raw: true, owned: true}, nil
}

var direntBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// entries lists the folder, once per open folder.
func (d folder) entries() ([]DirEntry, error) {
	buf := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(buf)
	var out []DirEntry
	err := d.do(func(fd int) error {
		var err error
		out, err = readEntries(fd, *buf)
		return err
	})
	return out, err
}

// Stat returns the Info of an open file, such as one from OpenRead, so a
// reader can tell whether the file changed while it was being read.
func Stat(f *os.File) (Info, error) {
	var st unix.Stat_t
	err := WithFd(f, func(fd int) error { return unix.Fstat(fd, &st) })
	if err != nil {
		return Info{}, &fs.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	return infoOf(&st), nil
}

func infoOf(st *unix.Stat_t) Info {
	i := Info{
		Size:  st.Size,
		Mtime: st.Mtim.Nano(),
		Ctime: st.Ctim.Nano(),
		Mode:  uint32(st.Mode) & uint32(fs.ModePerm),
		Ino:   uint64(st.Ino),
		Dev:   uint64(st.Dev),
		Uid:   st.Uid,
		Gid:   st.Gid,
	}
	i.Type = typeOf(uint32(st.Mode))
	i.classify()
	return i
}

// typeOf converts the S_IFMT bits of a stat mode to fs.FileMode type bits.
func typeOf(mode uint32) fs.FileMode {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return 0
	case unix.S_IFDIR:
		return fs.ModeDir
	case unix.S_IFLNK:
		return fs.ModeSymlink
	case unix.S_IFIFO:
		return fs.ModeNamedPipe
	case unix.S_IFSOCK:
		return fs.ModeSocket
	case unix.S_IFCHR:
		return fs.ModeDevice | fs.ModeCharDevice
	case unix.S_IFBLK:
		return fs.ModeDevice
	}
	return fs.ModeIrregular
}
