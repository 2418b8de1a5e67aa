package watch

// Probe is what this process may use to watch a root, as `peerlink doctor`
// reports it before a session needs it.
type Probe struct {
	// Fanotify is nil when write-opens anywhere on root's file system are
	// seen as they happen; otherwise why not.
	Fanotify error
	// Leases reports whether fs.leases-enable allows file leases, the
	// fallback that sees write-opens of the files the agent owns.
	Leases bool
	// MaxWatches is fs.inotify.max_user_watches, one per folder watched;
	// 0 when the system has no such limit or it cannot be read.
	MaxWatches int
	// FanotifyTree is nil when tree changes would come from fanotify
	// (TreeFanotify: no watch per folder, MaxWatches does not apply);
	// otherwise why not.
	FanotifyTree error
}

// ProbeRoot tells what Auto mode (see Options.Mode) could use on root.
func ProbeRoot(root string) Probe {
	return Probe{Fanotify: probeFanotify(root), Leases: leasesEnabled(), MaxWatches: readSysctl("fs.inotify.max_user_watches"),
		FanotifyTree: probeFanotifyTree(root)}
}
