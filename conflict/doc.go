// Package conflict decides, from every host's scan and the last synchronised
// index, what must happen to each path: which copy wins, what each host must
// fetch, create, delete or rename, and what must be quarantined for an
// operator. It performs no I/O.
//
// Resolve implements the seed's Step 4, File Conflict Resolution
// (seeds/file-conflict-resolution.txt). These are its rules, in the order
// they are applied to each path; the first that matches decides.
//
// # Paths left alone
//
// A path in Input.Quarantined, and everything below it, gets no op and no
// index record, and is not reported again in Plan.Quarantines: the hub
// keeps its own File Conflict List. With DeleteQuarantined ("Enable
// Deletion of Quarantined Files"), a quarantined path that no host holds
// any more is listed in Plan.Released so the hub drops its quarantine. The
// same treatment, with a warning instead of a quarantine, applies where a
// scan contradicts itself (an entry that does not validate, a path listed
// twice, a path listed without its folder or below a file): a malformed
// scan is never mistaken for a deletion. A path in Input.Held is left
// alone in the same way, but only itself: what is below a held folder is
// decided as usual (the hub holds the paths a live host lags on, which its
// repair settles one by one).
//
// # Name clashes
//
// Sibling names that differ only in case or in Unicode normalisation
// ("Readme"/"README", "café" in NFC and in NFD) would overwrite each other
// on a case-insensitive or normalising file system. A member of such a
// group that every host holds is synchronised as usual (nothing is
// created, so nothing can be overwritten; a host holding two members is
// case-sensitive there). Every other member is quarantined (ReasonNameClash)
// with its subtree, and each group is reported in Plan.Warnings. Names are
// compared after canonical decomposition (full Unicode 15 table), simple
// case folding and sorting of combining marks; "ß" and "ss" are different.
//
// # File or folder
//
// A path that is a file on one host and a folder on another is quarantined
// (ReasonKindMismatch); nothing below it is copied or deleted.
//
// # Offline changes
//
// With a last index, each host's copy is judged against the path's record:
// unchanged (same kind and, for a file, same size, hash and modification
// time, compared in whole seconds with TruncateMs; mode is not compared),
// changed (differs, and the record lists the host), deleted (absent, and the
// record lists the host), or new (no record, or the record does not list the
// host and the copy differs from it).
//
// Delete Detection Master Host: with OfflineDeleteDetection and a
// DeleteMaster, a path deleted on the master, which the record lists, is
// deleted on every other host "regardless of the current last modification
// times": edits elsewhere do not save it. Deletions on other hosts are
// brought back. A master that is not a participant propagates nothing.
//
// Quarantine Offline Version Conflicts: a file changed on two or more hosts
// to different contents is quarantined (ReasonOfflineEdit), whatever the
// resolver.
//
// Offline Delete Detection (no master): a path deleted on some host is
// deleted everywhere if every remaining copy is unchanged. If another host
// changed it or holds a new copy, the edit wins and the path is brought
// back where it was deleted; with QuarantineOfflineConflicts it is
// quarantined instead (ReasonDeleteEdit). Without the option a deleted path
// is always brought back.
//
// A folder is deleted only if everything below it is deleted too: a folder
// that still holds a kept, new, edited or quarantined path is kept (and
// created again where it was deleted), so an edit inside a folder deleted
// elsewhere survives. Deleting a folder is one OpDelete of the folder.
//
// Offline Folder Rename Detection is described at detectRenames: a narrow,
// exact match of the renaming host's old and new trees, with every other
// host still holding the old tree unchanged, gives one OpRename per other
// host. Anything less is handled as a new folder plus a deletion (or a
// resurrection), which loses nothing.
//
// # Resolvers
//
// Manual ("None (Manual Resolution)"): a file whose copies differ in content
// is quarantined (ReasonManual). Copies with equal content are never a
// conflict under either resolver.
//
// LastModified ("Last Modified Time Wins"): the copy with the latest
// modification time wins; with TruncateMs, times are compared floored to
// the whole second (the milliseconds and below are dropped). Among equally
// late copies with different contents, the content held by the most hosts
// wins, then the content whose copy is on the host first in Input.Hosts.
// Among the copies of the winning content, the one every host gets (its
// modification time and mode) is the latest, then the exact latest time,
// then a mode changed since the record, then the mode most hosts have,
// then the host first in Input.Hosts. With TruncateMs a host whose copy
// already has that content and mode in the same whole second keeps its own
// time: under the option the two times are equal, so no op changes it.
// Folder modification times are never synchronised; a folder's mode follows
// the same mode rules.
//
// Clock skew: "Last Modified Time Wins" trusts the clocks that stamped the
// times. With Input.Clocks, a file edited on two hosts (changed since the
// record, or new to it) to different contents, one of them the winning
// content, whose two modification times differ by less than the skew
// between the two hosts' clocks (the difference of their offsets plus
// each measurement's error), is quarantined (ReasonClockSkew) instead of
// decided. Without clocks, or with every clock exact, nothing changes.
//
// Open files: with Input.Writing, a file open for writing on two or more
// hosts, or on a host whose copy the plan would replace with another
// host's content or remove, is quarantined (ReasonOpen) whatever the
// rules above decided: the seed counts both as conflicts, and a copy
// replaced under its writer would lose what the writer saves next. An
// open copy whose content wins, or that gets only a new time or mode, is
// planned as usual.
//
// # Ops
//
// Each host gets renames first, then mkdirs parents first, then fetches and
// metas in tree order, then deletions children first. Every op carries Want,
// the entry the path is left as, and Have, the host's copy as scanned (nil
// for absent; for a rename, the folder at OldPath), so a target refuses an
// op when its copy changed after the scan. A fetch names a source that holds
// exactly Want's content at that path now, the winner when it can.
package conflict
