package agent

import "golang.org/x/sys/unix"

// folderIdentity returns the file system's id (f_fsid, from the UUID on
// ext4, xfs and btrfs; the device number where it is zero, as on tmpfs)
// and the root folder's inode.
func folderIdentity(root string) (fsID, inode uint64, err error) {
	var st unix.Stat_t
	if err := unix.Stat(root, &st); err != nil {
		return 0, 0, err
	}
	var sf unix.Statfs_t
	if err := unix.Statfs(root, &sf); err != nil {
		return 0, 0, err
	}
	fsID = uint64(uint32(sf.Fsid.Val[0]))<<32 | uint64(uint32(sf.Fsid.Val[1]))
	if fsID == 0 {
		fsID = st.Dev
	}
	return fsID, st.Ino, nil
}
