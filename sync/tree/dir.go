package tree

import (
	"io/fs"
	"sync"

	"github.com/peerlink/peerlink/wire"
	"golang.org/x/sys/unix"
)

// Dir is an open folder of the tree, for walking it: its entries are listed
// and examined relative to the folder's descriptor, so a scan of a deep tree
// resolves each path once rather than once per element per file, and never
// follows a symlink on the way down.
type Dir struct {
	d    folder
	path string
}

// DirEntry is one name in a folder and its type as the listing says.
type DirEntry struct {
	Name string
	Type fs.FileMode // fs.ModeType bits: 0 regular file, fs.ModeDir, fs.ModeSymlink...
}

// IsDir reports whether the entry is a folder.
func (e DirEntry) IsDir() bool { return e.Type == fs.ModeDir }

// OpenDir opens the folder path for walking; "" is the root.
func (t *Tree) OpenDir(path string) (*Dir, error) {
	if path != "" {
		if err := checkPath(path); err != nil {
			return nil, err
		}
	}
	d, err := t.openFolder(path, false)
	if err != nil {
		return nil, err
	}
	if !d.owned {
		// The root's shared descriptor has a file offset that listing
		// would move: give this Dir its own.
		var nfd int
		err := withFd(t.top, func(fd int) error {
			var err error
			nfd, err = unix.Openat(fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			return err
		})
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: t.dir, Err: err}
		}
		d = folder{fd: nfd, raw: true, owned: true}
	}
	return &Dir{d: d, path: path}, nil
}

// Path returns the folder's path ("" for the root).
func (d *Dir) Path() string { return d.path }

// Close releases the folder.
func (d *Dir) Close() error {
	return d.d.closeErr()
}

var direntBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Entries lists the folder, without "." and "..", in the order the file
// system returns them. Call it once per Dir.
func (d *Dir) Entries() ([]DirEntry, error) {
	buf := direntBufs.Get().(*[]byte)
	defer direntBufs.Put(buf)
	var out []DirEntry
	err := d.d.do(func(fd int) error {
		var err error
		out, err = readEntries(fd, *buf)
		return err
	})
	if err != nil {
		return out, &fs.PathError{Op: "readdir", Path: d.path, Err: err}
	}
	return out, nil
}

// Lstat describes the entry name of this folder without following a
// symlink.
func (d *Dir) Lstat(name string) (Info, error) {
	var st unix.Stat_t
	if err := d.d.do(func(fd int) error { return unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) }); err != nil {
		return Info{}, &fs.PathError{Op: "lstat", Path: join(d.path, name), Err: err}
	}
	return infoOf(&st), nil
}

// OpenDir opens the sub-folder name. A symlink is refused (ELOOP or
// ENOTDIR), so a walk never leaves the folder it descends.
func (d *Dir) OpenDir(name string) (*Dir, error) {
	p := join(d.path, name)
	if err := checkPath(p); err != nil {
		return nil, err
	}
	var nfd int
	err := d.d.do(func(fd int) error {
		var err error
		nfd, err = unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		return err
	})
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	return &Dir{d: folder{fd: nfd, raw: true, owned: true}, path: p}, nil
}

// RemoveTemp removes name if it is one of peerlink's temp files (IsTemp)
// and a regular file; anything else is refused. The scan uses it to clear
// the leftovers of a crash.
func (d *Dir) RemoveTemp(name string) error {
	p := join(d.path, name)
	if !IsTemp(name) {
		return &wire.Error{Kind: wire.KindInvalid, Path: p, Msg: "not a peerlink temp file"}
	}
	err := d.d.do(func(fd int) error {
		// unlinkat without AT_REMOVEDIR refuses a folder; a symlink is
		// removed as itself. Neither is something Create makes.
		return unix.Unlinkat(fd, name, 0)
	})
	if err != nil {
		return &fs.PathError{Op: "remove", Path: p, Err: err}
	}
	return nil
}
