// Package tree owns an agent's access to one watch-set root: every read,
// write, rename and removal an agent makes below the root goes through a
// Tree, so no path — whatever a message says, whatever symlinks the root
// holds — reaches outside it.
//
// How that holds: a Tree opens the root as an *os.Root, and every path is
// first checked with wire.CheckPath (relative, clean, no ".."). A path's
// folder is resolved through the os.Root, which cannot leave the root even
// through symlinks; the last element is then handled with the *at system
// calls on that folder's descriptor, one element and never following a
// symlink (O_NOFOLLOW, AT_SYMLINK_NOFOLLOW, renameat). So a symlink named by
// a path is refused or acted on as the link itself, never as its target. A
// symlink in the middle of a path is followed only as far as os.Root allows,
// that is to a folder inside the root; the scan never reports such paths.
//
// Content is replaced atomically (see Pending): temp file beside the
// destination, fsync, rename. A crash leaves the old or the new content,
// never a torn file, plus at worst a temp file named ".peerlink-tmp-*" that
// the next scan removes.
//
// Platforms. One API, two implementations, chosen by build constraints:
//
//   - Unix (folder_unix.go): the *at system calls on folder descriptors, as
//     described above. Linux adds fast paths (sys_linux.go): openat2 with
//     RESOLVE_BENEATH, getdents, renameat2(RENAME_NOREPLACE), O_NOATIME,
//     one syncfs per Sync, and inode flags and generations (flags_linux.go).
//     Other Unix systems, macOS included (sys_other.go), have no O_NOATIME,
//     a no-replace rename that is a check then a rename, and an fsync per
//     committed file instead of the syncfs.
//   - Everything else, that is Windows (folder_other.go): every operation
//     through os.Root; a last path element is checked with Lstat before it
//     is acted on, an fsync per committed file, no folder fsync on Windows,
//     no inode identity or change time (see Info). That file says what the
//     fallback cannot protect against. Build with -tags tree_portable to
//     use it on Linux, which is how its tests run there.
//
// Outside Linux there are no inode flags: Flags, SetFlags and Generation
// fail with errors.ErrUnsupported, and sync/lock locks with the write bits
// and lock files alone.
package tree
