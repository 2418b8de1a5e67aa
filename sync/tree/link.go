package tree

import (
	"os"

	"golang.org/x/sys/unix"

	"github.com/peerlink/peerlink/wire"
)

// Link makes newpath a second name of the file oldpath, creating newpath's
// missing parents. It never replaces anything. Where the file system has no
// hard links it fails; callers copy instead.
func (t *Tree) Link(oldpath, newpath string) error {
	if err := checkPath(oldpath); err != nil {
		return err
	}
	od, obase, err := t.parent(oldpath, false)
	if err != nil {
		return err
	}
	defer od.close()
	nd, nbase, err := t.parent(newpath, true)
	if err != nil {
		return err
	}
	defer nd.close()
	err = od.do(func(ofd int) error {
		return nd.do(func(nfd int) error { return unix.Linkat(ofd, obase, nfd, nbase, 0) })
	})
	if err != nil {
		return &os.LinkError{Op: "link", Old: oldpath, New: newpath, Err: err}
	}
	t.markDirty(wire.Parent(newpath))
	return nil
}
