//go:build unix

package doctor

import "golang.org/x/sys/unix"

// freeSpace returns the bytes free to an unprivileged user and the file
// system's size.
func freeSpace(root string) (free, total uint64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil {
		return 0, 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), uint64(st.Blocks) * uint64(st.Bsize), nil
}
