package tree

import (
	"io/fs"

	"github.com/peerlink/peerlink/wire"
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
		if d, err = t.rootDir(); err != nil {
			return nil, err
		}
	}
	return &Dir{d: d, path: path}, nil
}

// Path returns the folder's path ("" for the root).
func (d *Dir) Path() string { return d.path }

// Close releases the folder.
func (d *Dir) Close() error {
	return d.d.closeErr()
}

// Entries lists the folder, without "." and "..", in the order the file
// system returns them. Call it once per Dir.
func (d *Dir) Entries() ([]DirEntry, error) {
	out, err := d.d.entries()
	if err != nil {
		return out, &fs.PathError{Op: "readdir", Path: d.path, Err: err}
	}
	return out, nil
}

// Lstat describes the entry name of this folder without following a
// symlink.
func (d *Dir) Lstat(name string) (Info, error) {
	info, err := d.d.lstat(name)
	if err != nil {
		return Info{}, &fs.PathError{Op: "lstat", Path: join(d.path, name), Err: err}
	}
	return info, nil
}

// OpenDir opens the sub-folder name. A symlink is refused (ELOOP or
// ENOTDIR), so a walk never leaves the folder it descends.
func (d *Dir) OpenDir(name string) (*Dir, error) {
	p := join(d.path, name)
	if err := checkPath(p); err != nil {
		return nil, err
	}
	sub, err := d.d.openDir(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	return &Dir{d: sub, path: p}, nil
}

// RemoveTemp removes name if it is one of peerlink's temp files (IsTemp)
// and a regular file; anything else is refused. The scan uses it to clear
// the leftovers of a crash.
func (d *Dir) RemoveTemp(name string) error {
	p := join(d.path, name)
	if !IsTemp(name) {
		return &wire.Error{Kind: wire.KindInvalid, Path: p, Msg: "not a peerlink temp file"}
	}
	// unlink refuses a folder; a symlink is removed as itself. Neither is
	// something Create makes.
	if err := d.d.unlink(name); err != nil {
		return &fs.PathError{Op: "remove", Path: p, Err: err}
	}
	return nil
}
