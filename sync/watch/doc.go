// Package watch is the agent's detector of what users do in one watch-set
// root: files opened for writing and closed, files and folders created,
// removed, renamed and changed. It reports; it decides nothing about
// synchronisation — the agent turns a WriteOpen into a lock request, a
// Closed into a check for changes, and so on.
//
// # Events
//
// New starts a Watcher on a root; Events delivers Event values until the
// watcher stops (Close, the end of its context, or a failure that Err then
// reports). Paths are relative, slash-separated and clean (wire.CheckPath
// accepts them); names that are not valid watch-set paths (not UTF-8, with a
// backslash, too long) are left out, as the scan leaves them out, but for
// one Skipped event each (Linux), so that the agent can say so. Paths that
// Options.Filter excludes are not reported, and nothing below an excluded
// folder is watched. Symlinks are reported as entries but never followed:
// every folder is opened, and watched, without following a link.
//
// What each Op means is documented on it. Events are hints to look, not a
// journal: the agent checks the file system (and its index) before acting.
// In particular:
//
//   - Closed comes for every close of a descriptor open for writing, whether
//     or not anything was written; "closed with modifications" is for the
//     agent to decide by size, mtime and hash.
//   - Changed for content is reported once per file until its Closed (many
//     writes, one event); metadata changes are reported each time.
//   - A new folder's Created is followed by a Created for everything already
//     inside it (made before its watch existed: mkdir -p a/b/c and a write,
//     or a tree moved in whole), and the folder is watched before its
//     Created is sent. An entry may be reported twice when it was made while
//     the folder was being listed.
//   - A rename within the root is one Renamed, folders included (the paths
//     of later events below a renamed folder follow it). A rename over an
//     existing file replaces it: the agent treats it as a modification of
//     Path. A move out of the root, or to an excluded name, is a Removed; a
//     move in, or from an excluded name (an editor's temp file renamed over
//     the document), a Created.
//   - Overflow means events were lost; the agent rescans. The watcher itself
//     re-walks the tree (new folders are watched, office lock files and
//     leases reconciled) but reports nothing of what it finds, except the
//     Closed of files reported open that nobody has open for writing any
//     more (their close may have been lost; Linux, where a read lease can
//     tell). A fanotify overflow loses only write-opens: it is OpensLost,
//     not an Overflow, and nothing is rescanned for it.
//   - Events from one source keep their order. Write-opens found by fanotify
//     or a lease break travel another way than inotify's events, so a
//     WriteOpen may come just before or after the Created or Changed of the
//     same file; it never comes after that open's own Closed.
//   - Events must be drained: the watcher blocks on a slow reader, and then
//     the kernel's queue overflows (Overflow) rather than memory growing.
//
// # Write-opens (Linux)
//
// inotify's IN_OPEN does not say whether an open was for writing, so each
// Mode finds write-opens its own way:
//
// Fanotify (root only): one FAN_MARK_FILESYSTEM mark on the root's file
// system reports every open on it with the opener's pid and a descriptor of
// the opened file. Opens by Options.IgnorePid are dropped at once; for the
// others the path (readlink of /proc/self/fd/N) must be below the root, then
// the opener's /proc/PID/fd entries on the same inode and their
// /proc/PID/fdinfo flags tell whether it can write (O_WRONLY or O_RDWR). A
// read-only open reports nothing. The WriteOpen carries the pid and the
// user name of the opener's effective uid. Files already open for writing
// when the watcher starts are found once, by a look through every process's
// descriptors in /proc (a readlink per descriptor on the machine), and
// reported as WriteOpen with their opener. It cannot see: opens through
// another mount of the same file system whose path is not below the root as
// this process sees it (bind mounts), and the mode of an open already
// closed when it is looked at (a writer quicker than the lookup: its first
// modification, 100 ms later at most or at its Closed, is then reported as
// its WriteOpen, without pid; so is an in-place write by IgnorePid itself,
// which the agent avoids by writing through temp files and renames). Every
// open on the whole file system costs the watcher a read and a readlink,
// opens below the root a look through the opener's descriptors.
//
// Lease (the default without root): a read lease (F_SETLEASE F_RDLCK) on a
// read-only descriptor of each file. Any write-open of the file by anyone
// breaks it: the kernel holds the opener in open(2) and sends SIGIO; the
// watcher asks each lease (F_GETLEASE) which is breaking, queues its
// WriteOpen and releases it, which lets the opener go on (microseconds; the
// kernel would wait fs.lease-break-time, 45 s by default, for a watcher that
// did not answer). The lease is taken again after the writer's Closed. A
// lease refused with EAGAIN means the file is open for writing right now: at
// start, for a new file, or after a Closed while another writer remains,
// that is a WriteOpen. Leases cost one descriptor per file, so at most
// Options.MaxLeases files (DefaultMaxLeases, 4096) hold one; the rest, and
// files a non-root agent may not lease (only a file's owner or CAP_LEASE
// can), are detected by their first modification as in InotifyOnly. Lease
// mode does not know the opener (no Pid, no User, and IgnorePid cannot
// apply: the agent's own write-opens are reported too), and a truncate by
// path breaks a lease with no open at all: such a lease is tried again every
// 5 s, and once it can be re-armed a Closed is reported.
//
// InotifyOnly: a file's first modification since its last Closed is its
// WriteOpen. An open for writing that writes nothing is not seen.
//
// Auto picks Fanotify when running as root and the kernel allows the mark,
// else Lease when leases are enabled (fs.leases-enable) and the file system
// grants them, else InotifyOnly; Mode tells which. An explicit mode that
// cannot work makes New fail.
//
// # Tree changes (Linux)
//
// Options.Tree selects where creates, removals, renames, modifications and
// closes come from. TreeInotify: one inotify watch per folder (see
// Limits). TreeFanotify (root, or CAP_SYS_ADMIN with CAP_DAC_READ_SEARCH;
// Linux 5.17 or later; a file system that reports file handles): a second
// fanotify group, FAN_REPORT_DFID_NAME with the entry's own handle
// (FAN_REPORT_TARGET_FID), marks the root's whole file system
// (FAN_MARK_FILESYSTEM) for creates, removals, renames (FAN_RENAME: both
// names in one event, so a rename never waits for its second half),
// modifications, closes of writers and metadata changes. No watch per
// folder, so no limit to reach and no Limited; folders are listed once at
// start (office lock files, leases) and never again but after an
// Overflow. Each event names its folder by handle: the watcher opens it
// (open_by_handle_at) and reads its path, remembers the paths of the
// folders in use (a bounded cache), and keeps what lies below the root;
// the events are then handled as inotify's are, so the stream is the
// same. The path is read when the event is, later than it happened: the
// folder renames among the events read at once are undone on the paths of
// the events before them, and a folder removed since is placed by its own
// creation or removal in those events, or where it was last seen; events
// in a folder that cannot be placed are left out (it is gone, and its
// removal or move is reported from its parent). The kernel merges the
// queued events of one entry by one process (an echo > f is one event):
// they are reported in the order things are created, written, closed and
// removed, and a create and removal merged are ordered by whether the
// entry exists now. The group's queue overflowing is an Overflow, as
// inotify's. The root's removal or move is found by a look at the root
// after any folder's removal or rename on the file system. Every change on
// the whole file system costs the watcher a read, and those in folders
// not cached a path lookup. TreeAuto (the default) uses TreeFanotify where
// it works and says why not (Watcher.TreeFallback) otherwise.
//
// # Office lock files
//
// A LibreOffice lock file ".~lock.NAME#" appearing is a WriteOpen of NAME,
// and its removal NAME's Closed; a Microsoft Office owner file "~$NAME"
// likewise, matched to the sibling document whose name Word shortened (see
// filter.OfficeLockMatches; no match, no event). The events carry LockFile,
// and User as the lock file names it: LibreOffice's system user name (or
// its full name when that is empty), Office's user name (UTF-16 copy, else
// the code-page copy). A lock file just created is announced when its
// writer closes it (its content is complete then) or after 200 ms. Lock
// files are recognised before filtering (the default filter excludes them)
// and are never reported as files; lock files present at start are
// reported as WriteOpen at once. A folder moved out of the root or removed
// ends the sessions of the lock files in it (Closed).
//
// # Limits
//
// inotify (TreeInotify) needs one watch per folder. When fs.inotify.max_user_watches is
// reached (or, in a user namespace of its own, that namespace's lower
// user.max_inotify_watches), the folders that could not be watched are left
// out and the watcher goes on with the others: the first such folder is
// reported as Limited, once, with a *LimitError (wrapping ErrWatchLimit)
// that names the sysctl, its value and a value to raise it to. Nothing is
// reported of what happens in a folder left out, write-opens found by
// fanotify included (their Closed would never come); the agent falls back
// to periodic scans. An Overflow's re-walk tries those folders again. When
// not even the root can be watched, or fs.inotify.max_user_instances is
// reached, New fails with the *LimitError instead. The watcher keeps no
// descriptor of the root (so that its removal is seen) and stops with an
// error when the root is removed, moved or unmounted.
//
// # Portable build
//
// On other systems (files built with !linux) the watcher runs on fsnotify:
// Created, Removed, Renamed, Changed, Overflow and office lock files as
// above, a file's first modification as its WriteOpen, and — fsnotify
// reporting no closes — a Closed once a written file has been left alone
// for 2 s. It works as InotifyOnly (Fanotify and Lease make New fail).
// Limited is reported as above, when a folder cannot be added.
// Renames are paired from fsnotify's own pairing on Windows and inotify;
// on macOS and the BSDs (kqueue) the first Create after a rename's old name,
// within 50 ms, is taken for its new name. kqueue also holds a descriptor
// for every watched file, so the open-file limit is its ErrWatchLimit. The
// build tag watch_fsnotify selects this build on Linux too, which is how its
// tests run there: go test -tags watch_fsnotify ./sync/watch/.
//
// Beyond the API sketched in the design, the package has Options.MaxLeases
// (the bound leases need), Watcher.Mode and Watcher.Root (which detection
// Auto chose, for the agent's status), ParseMode (for a flag), and
// Options.Tree, Watcher.Tree, Watcher.TreeFallback and ParseTree (where
// tree changes come from).
package watch
