package tree

// Inode flags and identity of a file opened through the Tree, and removal
// of a single file: what sync/lock needs to lock a copy. Open the file with
// OpenRead (read-only, never through a symlink) and pass it here, so that
// every step acts on the one inode that was checked, whatever happens to
// the path meanwhile. Flags, SetFlags and Generation exist on Linux only
// (flags_linux.go); elsewhere they fail with an error that
// errors.Is(errors.ErrUnsupported) (flags_other.go).

// Inode flags (FS_IOC_GETFLAGS, as chattr(1) shows them) that x/sys/unix
// does not name. With FlagImmutable set nobody, root included, may write,
// truncate, rename, unlink, link, chmod or chown the file; with FlagAppend
// only appending is allowed. Setting or clearing either needs
// CAP_LINUX_IMMUTABLE.
const (
	FlagImmutable uint32 = 0x00000010 // FS_IMMUTABLE_FL, chattr +i
	FlagAppend    uint32 = 0x00000020 // FS_APPEND_FL, chattr +a
	FlagNodump    uint32 = 0x00000040 // FS_NODUMP_FL, chattr +d
)
