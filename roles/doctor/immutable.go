package doctor

import (
	"errors"
	"os"
	"runtime"
	"syscall"

	"github.com/peerlink/peerlink/sync/tree"
)

// immutable sets and clears the immutable flag on a file of its own in
// root, the way a lock does. The file has the agent's temp prefix, so a
// running agent ignores it.
func immutable(root string) Result {
	if runtime.GOOS != "linux" {
		return Result{Check: "immutable", Status: Warn, Detail: "no immutable flag on " + runtime.GOOS + ": a lock removes the write bits (read-only attribute) only"}
	}
	f, err := os.CreateTemp(root, tree.TempPrefix+"doctor-*")
	if err != nil {
		return Result{Check: "immutable", Status: Skip, Detail: "could not run: cannot create a test file: " + err.Error(),
			Fix: "run doctor as the agent's user"}
	}
	defer os.Remove(f.Name())
	defer f.Close()
	flags, err := tree.Flags(f)
	if err == nil {
		if err = tree.SetFlags(f, flags|tree.FlagImmutable); err == nil {
			if err := tree.SetFlags(f, flags); err != nil {
				return Result{Check: "immutable", Status: Fail, Detail: "set, then could not clear it on " + f.Name() + ": " + err.Error(),
					Fix: "chattr -i " + f.Name() + " and remove it"}
			}
			return Result{Check: "immutable", Status: OK, Detail: "a locked copy gets the immutable flag: nobody, root included, can change it"}
		}
	}
	weak := "a lock only removes the write bits, which the file's owner can put back"
	switch {
	case errors.Is(err, syscall.EPERM):
		return Result{Check: "immutable", Status: Warn, Detail: "the agent's user may not set the immutable flag: " + weak,
			Fix: "run the agent as root, or grant it CAP_LINUX_IMMUTABLE"}
	case errors.Is(err, syscall.ENOTTY), errors.Is(err, syscall.EOPNOTSUPP), errors.Is(err, syscall.EINVAL):
		return Result{Check: "immutable", Status: Warn, Detail: "this file system has no immutable flag (ramfs, FAT, NFS and SMB mounts have none): " + weak,
			Fix: "keep the root on ext4, XFS or btrfs for locks nobody can undo"}
	}
	return Result{Check: "immutable", Status: Warn, Detail: "the immutable flag could not be set: " + err.Error() + ": " + weak}
}
