// Package lock enforces and undoes target locks on one watch-set root. A
// target lock keeps the local users of a host from changing their copy of
// a file while a user on another host (the holder) edits it; it is
// released when the holder closes the file, after the new version, if
// any, has been applied with Replace.
//
// # API
//
//	type Journal interface { // *store.Agent: the "locks" and "lock-orphans" buckets of agent.db
//		PutLocks(recs ...store.LockRecord) error
//		DeleteLocks(session string, paths ...string) error
//		Locks(session string) ([]store.LockRecord, error)
//		PutOrphans(recs ...store.LockRecord) error
//		DeleteOrphans(session string, paths ...string) error
//		Orphans(session string) ([]store.LockRecord, error)
//	}
//	type Holder struct{ Host, User string }
//	func New(t *tree.Tree, j Journal, session string, opts Options) (*Locker, error)
//	func (l *Locker) Lock(path string, h Holder) error
//	func (l *Locker) Unlock(path string) error
//	func (l *Locker) Replace(path string, commit func() error) error
//	func (l *Locker) Reconcile(keep func(path string) bool) error
//	func (l *Locker) Locked(path string) bool
//	func (l *Locker) Held() []string
//	func (l *Locker) OwnLockFile(path string) bool
//
// New returns an error, unlike a plain constructor: it reads the journal,
// and a Locker that did not know a journaled lock could record a locked
// copy's mode as the original. One Locker per session and root; its
// methods are safe for concurrent use, and calls for one path run one at a
// time. Every file is reached through the sync/tree root (OpenRead: never
// through a symlink, never outside the root), and every change to a
// locked file is made on the descriptor whose device, inode and generation
// were checked, so a path swapped meanwhile is never chmod'ed by mistake.
//
// # What a lock is
//
// Layers, each applied where it can be (see Locker.Lock for the order):
//
//   - The write bits are removed (chmod a-w). This stops a new in-place
//     write by any user but root, the owner included until the owner
//     chmods the file back, and shows as read-only over SMB. It does not
//     stop a rename over the file, its removal (those are the folder's
//     permissions: editors' ":w!", Office and SMB saves), the owner's
//     chmod u+w, or a process running as root.
//   - The immutable flag (chattr +i, FS_IOC_SETFLAGS) is set when the
//     agent runs as root (CAP_LINUX_IMMUTABLE) on a file system that has
//     it: ext4, xfs, btrfs, and tmpfs on recent kernels. Nobody, root
//     included, may then write (even through a descriptor opened before),
//     truncate, rename over, rename, remove, hard-link to the name, chmod
//     or chown the file. The first refusal on a device (EPERM without the
//     capability, ENOTTY or EOPNOTSUPP on a file system without the flag)
//     turns the flag off on that device for the Locker's life, with a
//     warning; locks there are the write bits alone.
//   - An application lock file is written beside documents that have one,
//     naming the holder in the application's own format, so that a local
//     user who opens the document sees who has it: LibreOffice's
//     ".~lock.NAME#" for every type LibreOffice edits (ODF, flat ODF, the
//     Microsoft formats, CSV), and for Microsoft Office documents also
//     the owner file "~$NAME" (Word shortens long names: "~$cument1.docx"
//     for "Document1.docx"), which Office and LibreOffice 6.4+ read. Not
//     for .xls/.xlt, for which Office keeps no owner file. Lock files only
//     inform: an application may offer to open the document anyway, and
//     the layers above are what stop the save.
//
// So, for a README:
//
//   - agent as root, on ext4/xfs/btrfs: a locked copy cannot be changed,
//     replaced, renamed or removed by anyone on the host, root's own
//     programs included, through any path or descriptor; only chattr -i
//     by root undoes it.
//   - agent not root (it must then own the files it locks, or Lock fails
//     with a permission error): other users cannot write the copy in
//     place; its owner can after chmod u+w, and anyone who may write the
//     folder can rename another file over it or remove it. A file renamed
//     over a copy so is another inode: the release leaves it as it is.
//
// A lock refuses (KindBusy *wire.Error, which the hub treats as a second
// writer) a file that is open for writing on this host, and a document
// whose application lock file is there and is not the Locker's (a local
// user has it open in LibreOffice, which keeps no descriptor open). Open
// for writing is told by taking a read lease (F_SETLEASE F_RDLCK) and
// giving it back at once: the kernel refuses it with EAGAIN exactly when
// the file is open for writing (or has a writable shared mapping); a write
// lease, refused whenever anyone else has the file open at all, would take
// readers for writers. Where no lease can be taken (not the owner and no
// CAP_LEASE, fs.leases-enable=0, a file system without leases) every
// process's descriptors are scanned in /proc instead. The check is made
// again once the write bits and the flag are in place, so a writer who
// opened the file in between is not left writing under a lock.
//
// # Journal and recovery
//
// A lock is journaled in agent.db before the file is touched: the root
// (so that an agent can undo it after its session is gone), path,
// device, inode, inode generation (FS_IOC_GETVERSION; inode numbers are
// reused), the original mode (with setuid, setgid, sticky) and inode flags
// (FS_IOC_GETFLAGS), holder, time and the lock files it writes
// (store.LockRecord.LockFile, NUL-separated; NUL is in no path). Where the
// file system has no generation, Gen is 1<<32, which no 32-bit generation
// is, and files are matched on device and inode number alone; where it has
// no inode flags, Flags is 1<<31 (FS_RESERVED_FL, which the kernel never
// reports) and flags are left alone. Release restores exactly the
// recorded mode and flags, and only onto the same device, inode and
// generation: a file that replaced the locked one keeps its own. Lock
// files are removed only if they still name the holder (a local user's
// own lock file written since is left alone); the record goes last.
//
// Every step after the journal write is undone from the record, whatever
// was done of the rest, so an agent killed at any point leaves a journal
// from which Reconcile, at start-up before the watcher runs, undoes its
// locks (or keeps those the hub still holds, enforcing them again); none
// is left behind. A step that fails leaves the record for the next Unlock
// or Reconcile, and says why.
//
// Replace puts a new version in place of a locked copy (commit renames
// the new file over it): the immutable flag is cleared (a rename over an
// immutable file is refused, even to root), commit runs, and the lock is
// released; the new file keeps the mode commit gave it. If commit fails,
// the lock is put back as it was. See Locker.Replace.
//
// # Echoes
//
// The agent's watcher must not take the Locker's own lock files for a
// local user opening or closing a document: OwnLockFile says which they
// are, for as long as the lock is held and for Options.EchoWindow after
// their removal.
//
// # Limitations
//
//   - A file that is already immutable is left as it is; so is a file on a
//     file system without inode flags, where a lock is the write bits alone.
//   - Writers inside the kernel (nfsd, ksmbd) hold no descriptor in /proc:
//     the lease check counts them, the /proc scan does not. Samba with kernel oplocks
//     on can hold a write lease on a file a client only reads; such a file
//     is reported busy.
//   - An agent that is not root sees only its own processes in /proc;
//     where it can take no lease either it cannot tell that a file is open
//     for writing, warns and locks anyway.
//   - A lock file already there that is not the Locker's makes the lock
//     busy, even a stale one left by a crashed application; LibreOffice
//     itself asks its user about those.
//   - A locked file moved elsewhere behind the lock (by root, after chattr
//     -i) is not followed: the release finds another file or none at the
//     path and restores nothing.
//   - Lock files are written with mode 0644, owned by the agent's user,
//     and without Windows' hidden attribute.
//   - Outside Linux there are no inode flags, generations, leases or /proc:
//     a lock is the write bits and the lock files, and a busy file is not
//     detected.
package lock
