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
// The agent runs on Linux file servers. The package builds on other Unix
// systems with two documented weakenings (no O_NOATIME, and a rename that
// must not replace anything is a check then a rename rather than one atomic
// renameat2(RENAME_NOREPLACE)); it does not build on Windows.
package tree
