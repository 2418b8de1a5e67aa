//go:build unix && !linux && !tree_portable

package tree

import (
	"os"

	"golang.org/x/sys/unix"
)

// openBeneath opens the folder rel through the os.Root (openat2 is
// Linux-only).
func (t *Tree) openBeneath(rel string) (folder, error) { return t.openInRoot(rel) }

// oNoatime is Linux-only; elsewhere reading a file may update its access
// time.
const oNoatime = 0

// renameNoReplace has no atomic form outside Linux here: it checks that
// newname does not exist and then renames, which leaves a window of a few
// microseconds in which a file created by someone else could be replaced.
func renameNoReplace(olddir int, oldname string, newdir int, newname string) error {
	return checkThenRename(olddir, oldname, newdir, newname)
}

// readEntries lists the folder open as fd by name, then stats each name to
// learn its type: portable, at one extra stat per entry.
func readEntries(fd int, _ []byte) ([]DirEntry, error) {
	nfd, err := unix.Dup(fd)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(nfd), ".")
	defer f.Close()
	names, err := f.Readdirnames(-1)
	out := make([]DirEntry, 0, len(names))
	for _, n := range names {
		var st unix.Stat_t
		if unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			out = append(out, DirEntry{Name: n, Type: typeOf(uint32(st.Mode))})
		}
	}
	return out, err
}

// haveSyncfs is false: without syncfs(2) a Commit with DeferSync fsyncs its
// file itself and only the rename and the folder's fsync are deferred.
const haveSyncfs = false

func syncfs(int) error { return nil } // never called: haveSyncfs is false
