//go:build unix && !tree_portable

package tree

import (
	"fmt"
	"os"

	"github.com/peerlink/peerlink/wire"
	"golang.org/x/sys/unix"
)

// Room checks that the file system which would hold path has size bytes
// free for a new copy of it, and returns an error wrapping ENOSPC if not.
// A fetch asks before it moves a byte: a full disk found only by the write
// would cost the whole transfer across the WAN on every retry. Root may
// use the blocks reserved for it, other users only what is available to
// all. A folder of path that does not exist yet is measured at the
// nearest one that does.
func (t *Tree) Room(path string, size int64) error {
	if err := checkPath(path); err != nil {
		return err
	}
	d, err := t.nearestFolder(path)
	if err != nil {
		return err
	}
	defer d.close()
	var st unix.Statfs_t
	if err := d.do(func(fd int) error { return unix.Fstatfs(fd, &st) }); err != nil {
		return nil // no figure to go by: the write finds out
	}
	if st.Blocks == 0 {
		return nil // ramfs and some network file systems report no size
	}
	blocks := st.Bavail
	if os.Geteuid() == 0 {
		blocks = st.Bfree
	}
	free := int64(min(blocks*uint64(st.Bsize), 1<<62))
	if size > free {
		return &os.PathError{Op: "fetch", Path: path,
			Err: fmt.Errorf("%w: the new copy needs %d bytes, the file system holding it has %d free", unix.ENOSPC, size, free)}
	}
	return nil
}

// nearestFolder opens the closest existing folder that holds path.
func (t *Tree) nearestFolder(path string) (folder, error) {
	for dir := wire.Parent(path); dir != ""; dir = wire.Parent(dir) {
		if d, err := t.openBeneath(dir); err == nil {
			return d, nil
		}
	}
	return t.rootFolder(), nil
}
