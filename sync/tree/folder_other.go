//go:build !unix || tree_portable

package tree

// The portable implementation, for Windows (and any system that is not
// Unix): every operation goes through an *os.Root, so no path leaves the
// root, symlinks and ".." included. Built on Linux with -tags tree_portable,
// which is how it is tested.
//
// What it cannot do as the Unix implementation does, and what it does
// instead:
//   - The last element of a path is not pinned by an *at system call with
//     "no follow": an os.Root follows a symlink that stays inside the root.
//     So chmod, setting times, renaming without replacing, removing a file
//     and opening a file or folder first check with Lstat, then act, and
//     OpenRead and Dir.OpenDir check afterwards that what they opened is
//     what Lstat saw. Between check and act lies a window of microseconds in
//     which a user could swap the name for a symlink to another file inside
//     the root; nothing outside the root is ever reached.
//   - A rename that must not replace anything is a check then a rename.
//   - Each Commit fsyncs its own file (there is no syncfs); Sync fsyncs each
//     touched folder where the system can (not on Windows: see
//     sys_windows.go).
//   - No O_NOATIME: reading a file may update its access time.

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/peerlink/peerlink/wire"
)

// oDirectory: opening the root needs no flag; Open checked it is a folder.
const oDirectory = 0

// haveSyncfs is false: a Commit with DeferSync fsyncs its file itself and
// only the rename and the folder's fsync are deferred.
const haveSyncfs = false

// errIsFolder is unlink's refusal of a folder, as unlinkat(2) says it.
var errIsFolder error = syscall.EISDIR

// folder is an open folder of the tree, as an os.Root of its own (owned,
// closed by close) or the Tree's root itself.
type folder struct {
	r     *os.Root
	top   *os.Root // the Tree's root, for what spans two folders
	rel   string   // the folder's path below top, "" for the root
	owned bool
}

func (t *Tree) rootFolder() folder { return folder{r: t.root, top: t.root} }

// rootDir is the root for a Dir: listing opens the folder afresh, so the
// shared root will do.
func (t *Tree) rootDir() (folder, error) { return t.rootFolder(), nil }

func (d folder) close() { d.closeErr() }

func (d folder) closeErr() error {
	if !d.owned {
		return nil
	}
	return d.r.Close()
}

// openBeneath opens the folder rel as an os.Root of its own.
func (t *Tree) openBeneath(rel string) (folder, error) {
	r, err := t.root.OpenRoot(rel)
	if err != nil {
		return folder{}, err
	}
	return folder{r: r, top: t.root, rel: rel, owned: true}, nil
}

// bare strips what the os package wraps around a system call's error, so
// that callers wrap it once, with the path they know.
func bare(err error) error {
	var pe *fs.PathError
	var le *os.LinkError
	var se *os.SyscallError
	switch {
	case errors.As(err, &pe):
		return pe.Err
	case errors.As(err, &le):
		return le.Err
	case errors.As(err, &se):
		return se.Err
	}
	return err
}

// The operations on one name in a folder. Their errors are bare, for the
// caller to wrap with the path it knows.

func (d folder) lstat(name string) (Info, error) {
	fi, err := d.r.Lstat(name)
	if err != nil {
		return Info{}, bare(err)
	}
	return infoOf(fi), nil
}

// noLink fails with ELOOP if name is a symlink: the check before an act
// that an os.Root would carry through one.
func (d folder) noLink(name string) error {
	fi, err := d.r.Lstat(name)
	if err != nil {
		return bare(err)
	}
	if fi.Mode().Type() == fs.ModeSymlink {
		return syscall.ELOOP
	}
	return nil
}

// create makes a new file, write-only, mode 0600; it fails if name exists,
// even as a symlink (O_EXCL never follows one).
func (d folder) create(name string) (*os.File, error) {
	f, err := d.r.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	return f, bare(err)
}

// unlink removes name unless it is a folder; a symlink is removed as
// itself.
func (d folder) unlink(name string) error {
	fi, err := d.r.Lstat(name)
	if err != nil {
		return bare(err)
	}
	if fi.IsDir() {
		return errIsFolder
	}
	return bare(d.r.Remove(name))
}

// rename renames oldname to newname in this folder, replacing newname.
func (d folder) rename(oldname, newname string) error {
	return bare(d.r.Rename(oldname, newname))
}

// renameNoReplace renames oldname to newname in this folder after checking
// that newname does not exist (EEXIST if it does).
func (d folder) renameNoReplace(oldname, newname string) error {
	switch _, err := d.r.Lstat(newname); {
	case err == nil:
		return syscall.EEXIST
	case !errors.Is(err, fs.ErrNotExist):
		return bare(err)
	}
	return bare(d.r.Rename(oldname, newname))
}

// setTimes sets the access and modification times of name, refusing a
// symlink.
func (d folder) setTimes(name string, mtime int64) error {
	if err := d.noLink(name); err != nil {
		return err
	}
	t := time.Unix(0, mtime)
	return bare(d.r.Chtimes(name, t, t))
}

// chmod sets name's permission bits, refusing a symlink. On Windows only
// the owner's write bit means anything: it is the read-only attribute.
func (d folder) chmod(name string, mode uint32) error {
	if err := d.noLink(name); err != nil {
		return err
	}
	return bare(d.r.Chmod(name, fs.FileMode(mode)))
}

func (d folder) lchown(name string, uid, gid int) error {
	return bare(d.r.Lchown(name, uid, gid))
}

// fsyncFile makes the content of the regular file name durable. Sync
// never calls it here (haveSyncfs is false: each Commit fsynced its file);
// Windows would refuse the fsync of a file opened read-only.
func (d folder) fsyncFile(name string) error {
	f, err := d.r.Open(name)
	if err != nil {
		return bare(err)
	}
	err = f.Sync()
	f.Close()
	return bare(err)
}

// sync makes the folder's entries durable where the system can.
func (d folder) sync() error { return syncFolder(d.r) }

// renameAcross renames od/oldname to nd/newname after checking that
// newname does not exist. It names both through the Tree's root, which
// cannot leave it.
func renameAcross(od folder, oldname string, nd folder, newname string) error {
	if err := nd.noEntry(newname); err != nil {
		return err
	}
	return bare(od.top.Rename(join(od.rel, oldname), join(nd.rel, newname)))
}

// linkAcross makes nd/newname a hard link to od/oldname; it never replaces
// anything.
func linkAcross(od folder, oldname string, nd folder, newname string) error {
	if err := od.noLink(oldname); err != nil {
		return err
	}
	return bare(od.top.Link(join(od.rel, oldname), join(nd.rel, newname)))
}

// noEntry fails with EEXIST if name exists.
func (d folder) noEntry(name string) error {
	switch _, err := d.r.Lstat(name); {
	case err == nil:
		return syscall.EEXIST
	case !errors.Is(err, fs.ErrNotExist):
		return bare(err)
	}
	return nil
}

// syncAll is never called: haveSyncfs is false.
func (t *Tree) syncAll() error { return nil }

// OpenRead opens a regular file for reading. It refuses a symlink, a folder
// or any special file with a KindInvalid error. It checks the name with
// Lstat, opens it, and keeps the file only if it is the one Lstat saw;
// a file replaced in between (an editor's save) is looked at again.
func (t *Tree) OpenRead(path string) (*os.File, error) {
	d, base, err := t.parent(path, false)
	if err != nil {
		return nil, err
	}
	defer d.close()
	for try := 0; ; try++ {
		before, err := d.r.Lstat(base)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: bare(err)}
		}
		if i := infoOf(before); i.Kind != wire.KindFile {
			return nil, &wire.Error{Kind: wire.KindInvalid, Path: path, Msg: "is a " + i.TypeString() + ", not a regular file"}
		}
		f, err := d.r.Open(base)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: path, Err: bare(err)}
		}
		after, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, &fs.PathError{Op: "fstat", Path: path, Err: bare(err)}
		}
		if after.Mode().IsRegular() && os.SameFile(before, after) {
			return f, nil
		}
		f.Close()
		if try == 3 {
			return nil, &wire.Error{Kind: wire.KindChanged, Path: path, Msg: "replaced again and again while being opened"}
		}
	}
}

// openDir opens the sub-folder name, refusing a symlink (ENOTDIR) and
// keeping the folder only if it is the one Lstat saw.
func (d folder) openDir(name string) (folder, error) {
	before, err := d.r.Lstat(name)
	if err != nil {
		return folder{}, bare(err)
	}
	if !before.IsDir() {
		return folder{}, syscall.ENOTDIR
	}
	r, err := d.r.OpenRoot(name)
	if err != nil {
		return folder{}, bare(err)
	}
	after, err := r.Stat(".")
	if err != nil || !os.SameFile(before, after) {
		r.Close()
		if err != nil {
			return folder{}, bare(err)
		}
		return folder{}, syscall.ENOTDIR // replaced, perhaps by a symlink
	}
	return folder{r: r, top: d.top, rel: join(d.rel, name), owned: true}, nil
}

// entries lists the folder, with each entry's type as the listing says.
func (d folder) entries() ([]DirEntry, error) {
	f, err := d.r.Open(".")
	if err != nil {
		return nil, bare(err)
	}
	defer f.Close()
	ents, err := f.ReadDir(-1)
	out := make([]DirEntry, 0, len(ents))
	for _, e := range ents {
		out = append(out, DirEntry{Name: e.Name(), Type: e.Type()})
	}
	return out, bare(err)
}

// Stat returns the Info of an open file, such as one from OpenRead, so a
// reader can tell whether the file changed while it was being read.
func Stat(f *os.File) (Info, error) {
	fi, err := f.Stat()
	if err != nil {
		return Info{}, &fs.PathError{Op: "fstat", Path: f.Name(), Err: bare(err)}
	}
	return infoOf(fi), nil
}

func infoOf(fi fs.FileInfo) Info {
	i := Info{
		Type:  fi.Mode().Type(),
		Size:  fi.Size(),
		Mtime: fi.ModTime().UnixNano(),
		Mode:  uint32(fi.Mode().Perm()),
	}
	i.classify()
	sysInfo(fi, &i)
	return i
}

// syncOpened fsyncs the folder r through a descriptor of its own.
func syncOpened(r *os.Root) error {
	f, err := r.Open(".")
	if err != nil {
		return bare(err)
	}
	err = f.Sync()
	f.Close()
	return bare(err)
}
