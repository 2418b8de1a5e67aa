//go:build tree_portable

package tree

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// sysInfo completes an Info from the stat the os package made, for the
// portable implementation built on Linux to be tested.
func sysInfo(fi fs.FileInfo, i *Info) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		i.Ctime = i.Mtime
		return
	}
	i.Ctime = st.Ctim.Nano()
	i.Ino, i.Dev = st.Ino, st.Dev
	i.Uid, i.Gid = st.Uid, st.Gid
}

// syncFolder fsyncs the folder r.
func syncFolder(r *os.Root) error { return syncOpened(r) }

// linkUnsupported says that a hard link could not be made here, where a
// copy would do.
func linkUnsupported(err error) bool {
	for _, e := range []syscall.Errno{syscall.EXDEV, syscall.EPERM, syscall.EOPNOTSUPP, syscall.EMLINK} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
