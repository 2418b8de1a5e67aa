package tree

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/peerlink/peerlink/wire"
)

// TempPrefix starts the name of every temp file a Tree writes. The scan
// removes files with this prefix (they are leftovers of a crash) and the
// default filter excludes them, so no other host ever sees one.
const TempPrefix = ".peerlink-tmp-"

// IsTemp reports whether base, a file name without folder, is one of
// peerlink's temp files.
func IsTemp(base string) bool { return strings.HasPrefix(base, TempPrefix) }

// dirMode is the mode of folders created on the way to a file or folder.
// It is a placeholder: the hub plans every folder as an entry of its own,
// and its Mkdir or SetMeta sets the real mode (creation only has to leave
// the agent able to write inside). The umask applies, as to any mkdir.
const dirMode = 0o755

// Tree is an open watch-set root. Its methods are safe for concurrent use;
// several files may be written at once.
type Tree struct {
	dir  string
	root *os.Root
	top  *os.File // the root folder itself, so top-level names cost one call

	mu     sync.Mutex
	dirty  map[string]struct{} // folders whose entries changed since the last Sync
	staged []staged            // Commits with DeferSync waiting for Sync
	syncMu sync.Mutex          // held by Sync: one at a time
	guard  func(path string) error

	heldFolders atomic.Int32 // folders held open for staged files
}

// GuardReplace has every Commit that replaces an existing file ask guard
// first, right before its rename, and give up with guard's error if it
// returns one. The agent refuses so to replace a file that a process has
// open for writing (wire.KindOpen): the writer's later writes would go to
// the replaced inode, out of the tree. Set it before the first Commit.
func (t *Tree) GuardReplace(guard func(path string) error) {
	t.mu.Lock()
	t.guard = guard
	t.mu.Unlock()
}

func (t *Tree) replaceGuard() func(string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.guard
}

// Open opens the watch-set root dir, which must be an absolute path to an
// existing folder. Its errors say what the administrator should do, cross
// the wire with that message (they are *wire.Error to errors.As and
// wire.ToError), and keep the cause reachable with errors.Is. Where they
// say what to fix, HOST stands for the host's name: OpenFor names it.
func Open(dir string) (*Tree, error) { return OpenFor(dir, "HOST") }

// OpenFor is Open on the host named host, whose errors name it.
func OpenFor(dir, host string) (*Tree, error) {
	fix := "fix the session's --host " + host + "=" + dir
	if !filepath.IsAbs(dir) {
		return nil, &wire.Error{Kind: wire.KindInvalid, Msg: fmt.Sprintf("root %q is not an absolute path: give the full path in --host %s=/path", dir, host)}
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, adminError(err, "root %s does not exist: create it or %s", dir, fix)
	case errors.Is(err, fs.ErrPermission):
		return nil, adminError(err, "root %s cannot be reached by the agent (uid %d): grant it access or %s", dir, os.Geteuid(), fix)
	case err != nil:
		return nil, adminError(err, "root %s: %v", dir, err)
	case !fi.IsDir():
		return nil, &wire.Error{Kind: wire.KindInvalid, Msg: fmt.Sprintf("root %s is not a folder: %s", dir, fix)}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, adminError(err, "root %s cannot be opened by the agent (uid %d): %v", dir, os.Geteuid(), err)
	}
	top, err := root.OpenFile(".", os.O_RDONLY|oDirectory, 0)
	if err != nil {
		root.Close()
		return nil, adminError(err, "root %s cannot be opened by the agent (uid %d): %v", dir, os.Geteuid(), err)
	}
	return &Tree{dir: dir, root: root, top: top, dirty: map[string]struct{}{}}, nil
}

// Dir returns the root's path as given to Open.
func (t *Tree) Dir() string { return t.dir }

// Close releases the root. Files and Pendings still open keep working on
// their own descriptors; new operations fail. Commits staged and not yet
// Synced are dropped, their Staged outcomes failed: their temp files stay
// for the next scan to remove.
func (t *Tree) Close() error {
	t.mu.Lock()
	dropped := t.staged
	t.staged = nil
	t.mu.Unlock()
	for _, s := range dropped {
		s.finish(&wire.Error{Kind: wire.KindTransient, Op: "commit", Path: s.path, Msg: "the session's root was closed before the file was made durable"})
	}
	err := t.top.Close()
	return errors.Join(err, t.root.Close())
}

// CheckWritable creates and removes a temp file at the root, so a session
// fails at attach time, with a clear message, rather than at its first
// transfer.
func (t *Tree) CheckWritable() error {
	name := tempName()
	d := t.rootFolder()
	f, err := d.create(name)
	if err == nil {
		f.Close()
		err = d.unlink(name)
	}
	if err != nil {
		return adminError(&fs.PathError{Op: "create", Path: join(t.dir, name), Err: err},
			"root %s is not writable by the agent (uid %d): %v; grant it write access or run the agent as a user who has it", t.dir, os.Geteuid(), err)
	}
	return nil
}

// adminError is an error whose message tells the administrator what to do.
// To errors.As it is a *wire.Error of the cause's kind carrying that
// message, so it reaches the console intact; errors.Is still finds the
// cause.
func adminError(cause error, format string, args ...any) error {
	we := &wire.Error{Kind: wire.ToError("", "", "", cause).Kind, Msg: fmt.Sprintf(format, args...)}
	return &guidedError{we: we, cause: cause}
}

type guidedError struct {
	we    *wire.Error
	cause error
}

func (e *guidedError) Error() string   { return e.we.Msg }
func (e *guidedError) Unwrap() []error { return []error{e.we, e.cause} }

// checkPath refuses any path that is not a clean watch-set path, as a
// KindInvalid error naming it.
func checkPath(p string) error {
	if err := wire.CheckPath(p); err != nil {
		var pe *wire.PathError
		if errors.As(err, &pe) {
			return &wire.Error{Kind: wire.KindInvalid, Path: p, Msg: "invalid path: " + pe.Reason}
		}
		return &wire.Error{Kind: wire.KindInvalid, Path: p, Msg: err.Error()}
	}
	return nil
}

// openFolder opens the folder rel ("" for the root), never outside the
// root. With create, missing folders are made first (mode dirMode).
func (t *Tree) openFolder(rel string, create bool) (folder, error) {
	if rel == "" {
		return t.rootFolder(), nil
	}
	d, err := t.openBeneath(rel)
	if create && errors.Is(err, fs.ErrNotExist) {
		if err = t.root.MkdirAll(rel, dirMode); err == nil {
			t.markDirty(wire.Parent(rel))
			d, err = t.openBeneath(rel)
		}
	}
	if err != nil {
		return folder{}, t.symlinkError(rel, true, err)
	}
	return d, nil
}

// parent checks p and opens the folder that holds it.
func (t *Tree) parent(p string, create bool) (folder, string, error) {
	if err := checkPath(p); err != nil {
		return folder{}, "", err
	}
	d, err := t.openFolder(wire.Parent(p), create)
	return d, wire.Base(p), err
}

// Lstat describes path without following a symlink.
func (t *Tree) Lstat(path string) (Info, error) {
	d, base, err := t.parent(path, false)
	if err != nil {
		return Info{}, err
	}
	defer d.close()
	info, err := d.lstat(base)
	if err != nil {
		return Info{}, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	return info, nil
}

// Mkdir makes the folder path and any missing parents, then sets its mode
// to exactly mode (the umask does not apply). An existing folder is fine;
// an existing file is an error.
func (t *Tree) Mkdir(path string, mode uint32) error {
	if err := checkPath(path); err != nil {
		return err
	}
	if err := t.root.MkdirAll(path, dirMode); err != nil {
		return fmt.Errorf("mkdir: %w", t.symlinkError(path, true, err))
	}
	t.markDirty(wire.Parent(path))
	return t.chmod(path, mode)
}

// SetMeta sets the modification time (Unix nanoseconds; the access time is
// set to the same) and permission bits of a file or folder, never through a
// symlink.
func (t *Tree) SetMeta(path string, mtime int64, mode uint32) error {
	if err := t.chmod(path, mode); err != nil {
		return err
	}
	d, base, err := t.parent(path, false)
	if err != nil {
		return err
	}
	defer d.close()
	if err := d.setTimes(base, mtime); err != nil {
		return t.symlinkError(path, false, &fs.PathError{Op: "utimensat", Path: path, Err: err})
	}
	return nil
}

func (t *Tree) chmod(path string, mode uint32) error {
	if mode&^uint32(fs.ModePerm) != 0 {
		return &wire.Error{Kind: wire.KindInvalid, Path: path, Msg: fmt.Sprintf("mode %o has bits beyond the permission bits", mode)}
	}
	d, base, err := t.parent(path, false)
	if err != nil {
		return err
	}
	defer d.close()
	if err := d.chmod(base, mode); err != nil {
		return t.symlinkError(path, false, &fs.PathError{Op: "chmod", Path: path, Err: err})
	}
	return nil
}

// Remove removes path, a file or a whole folder tree. A symlink is removed,
// never followed. A path that does not exist is not an error: the state the
// caller wants is there.
func (t *Tree) Remove(path string) error {
	if err := checkPath(path); err != nil {
		return err
	}
	if err := t.root.RemoveAll(path); err != nil {
		return fmt.Errorf("remove: %w", t.symlinkError(path, false, err))
	}
	t.markDirty(wire.Parent(path))
	return nil
}

// Rename moves oldpath to newpath, creating newpath's missing parents. It
// never replaces anything: if newpath exists (a user created it since the
// scan) it fails with an error that errors.Is(fs.ErrExist).
func (t *Tree) Rename(oldpath, newpath string) error {
	od, obase, nd, nbase, err := t.parents(oldpath, newpath)
	if err != nil {
		return err
	}
	defer od.close()
	defer nd.close()
	if err := renameAcross(od, obase, nd, nbase); err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	t.markDirty(wire.Parent(oldpath))
	t.markDirty(wire.Parent(newpath))
	return nil
}

// parents opens the folders of oldpath, which must exist, and of newpath,
// created where missing, for an operation across the two.
func (t *Tree) parents(oldpath, newpath string) (od folder, obase string, nd folder, nbase string, err error) {
	od, obase, err = t.parent(oldpath, false)
	if err != nil {
		return folder{}, "", folder{}, "", err
	}
	nd, nbase, err = t.parent(newpath, true)
	if err != nil {
		od.close()
		return folder{}, "", folder{}, "", err
	}
	return od, obase, nd, nbase, nil
}

// Link makes newpath a second name of the file oldpath, creating newpath's
// missing parents. It never replaces anything. Where no hard link can be
// made (another file system, one without hard links, too many links, or
// hard links refused) it fails with an error that
// errors.Is(errors.ErrUnsupported); callers copy instead.
func (t *Tree) Link(oldpath, newpath string) error {
	od, obase, nd, nbase, err := t.parents(oldpath, newpath)
	if err != nil {
		return err
	}
	defer od.close()
	defer nd.close()
	if err := linkAcross(od, obase, nd, nbase); err != nil {
		if linkUnsupported(err) {
			err = noLinkError{err}
		}
		return &os.LinkError{Op: "link", Old: oldpath, New: newpath, Err: err}
	}
	t.markDirty(wire.Parent(newpath))
	return nil
}

// noLinkError is a system's refusal to make a hard link where a copy would
// do: errors.Is(errors.ErrUnsupported), and the cause is kept.
type noLinkError struct{ err error }

func (e noLinkError) Error() string        { return e.err.Error() }
func (e noLinkError) Unwrap() error        { return e.err }
func (e noLinkError) Is(target error) bool { return target == errors.ErrUnsupported }

// RemoveFile removes path if it is not a folder: a file, or a symlink as
// itself (a folder is refused: EISDIR on Linux). A path that does not exist
// is not an error.
func (t *Tree) RemoveFile(path string) error {
	d, base, err := t.parent(path, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // its folder is gone, and it with it
	}
	if err != nil {
		return err
	}
	defer d.close()
	err = d.unlink(base)
	switch {
	case err == nil:
		t.markDirty(wire.Parent(path))
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return nil
	}
	return &fs.PathError{Op: "remove", Path: path, Err: err}
}

// join joins a folder path ("" for the root) and a name.
func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}
