//go:build !linux && !windows && (!unix || tree_portable)

package tree

import (
	"errors"
	"io/fs"
	"os"
)

// sysInfo completes an Info where the os package's stat is all there is:
// no inode identity or owner, and the modification time for change time.
func sysInfo(fi fs.FileInfo, i *Info) { i.Ctime = i.Mtime }

// syncFolder fsyncs the folder r.
func syncFolder(r *os.Root) error { return syncOpened(r) }

// linkUnsupported says that a hard link could not be made here, where a
// copy would do: only when the system says it has none.
func linkUnsupported(err error) bool { return errors.Is(err, errors.ErrUnsupported) }
