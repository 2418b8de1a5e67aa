//go:build !tree_portable

package tree

import (
	"os"

	"golang.org/x/sys/unix"
)

// startWriteback asks the kernel to start writing [off, off+n) of f to
// disk now, without waiting for it (sync_file_range SYNC_FILE_RANGE_WRITE),
// so that the fsync at the commit of a large file finds most of it written
// already rather than flushing it all while the caller waits. An error is
// ignored: the fsync still makes the file durable.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}
