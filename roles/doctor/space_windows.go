package doctor

import "golang.org/x/sys/windows"

// freeSpace returns the bytes free to this user and the volume's size.
func freeSpace(root string) (free, total uint64, err error) {
	p, err := windows.UTF16PtrFromString(root)
	if err != nil {
		return 0, 0, err
	}
	err = windows.GetDiskFreeSpaceEx(p, &free, &total, nil)
	return free, total, err
}
