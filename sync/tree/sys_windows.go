package tree

import (
	"errors"
	"io/fs"
	"os"

	"golang.org/x/sys/windows"
)

// sysInfo completes an Info on Windows, where a listing has no inode
// identity, owner or change time: Ino, Dev, Uid and Gid stay 0 and Ctime is
// the modification time, so the scan cache keys on size and modification
// time alone (as rsync does), and a lock recognises its file by path.
func sysInfo(fi fs.FileInfo, i *Info) { i.Ctime = i.Mtime }

// syncFolder does nothing on Windows: a folder cannot be opened for
// writing, which FlushFileBuffers needs, so its entries cannot be fsynced.
// NTFS journals them itself; a power loss within seconds of a Commit may
// bring back the old content (never a torn file) and leave a temp file for
// the next scan to remove.
func syncFolder(*os.Root) error { return nil }

// linkUnsupported says that a hard link could not be made here, where a
// copy would do: another volume, a file system without hard links (FAT,
// exFAT), too many links, or not permitted.
func linkUnsupported(err error) bool {
	for _, e := range []windows.Errno{windows.ERROR_NOT_SAME_DEVICE, windows.ERROR_INVALID_FUNCTION,
		windows.ERROR_NOT_SUPPORTED, windows.ERROR_TOO_MANY_LINKS, windows.ERROR_ACCESS_DENIED} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
