// Package scan owns the agent's picture of its watch set: it walks a root
// through sync/tree and reports every file and folder as a wire.Entry with
// its content hash, re-reading only files whose size, modification time,
// change time or inode moved since the scan cache last saw them.
//
// What a scan reports, and what it leaves out:
//
//   - Every file and folder below the root (never the root itself), with
//     relative slash paths, in increasing order of path where a folder's
//     path compares as if it ended in '/'. In that order the file paths
//     alone are in plain byte order, which is what lets a cache prune with
//     one pass over its sorted keys (see Cache.Seen), and lets a receiver
//     merge scans of several hosts as streams.
//   - Excluded paths (Options.Filter) are left out silently, and an excluded
//     folder is not descended.
//   - peerlink's own temp files are leftovers of a crash (a scan runs only
//     when no transfer is in flight): they are removed and counted nowhere;
//     with Options.KeepTemp (a rescan while transfers run) they are only
//     left out.
//   - Everything else that cannot be reported becomes a warning, a
//     wire.Error naming the path, and counts in ScanStats.Skipped (so
//     Skipped == len(warnings)): symlinks, devices, sockets and pipes
//     (KindInvalid), names that are not valid watch-set paths (KindInvalid),
//     files and folders that cannot be read (KindPermission or the kind of
//     the error), and files that changed while being read twice in a row
//     (KindChanged). A path named by a warning exists but is unknown: a
//     receiver must neither copy it nor take its absence from the entries
//     as a deletion, and for a folder the same holds for everything below
//     it.
//
// A scan never fails because of one path; it fails only when ctx is
// cancelled, the root cannot be listed, or emit or the cache fails.
package scan
