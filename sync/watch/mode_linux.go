//go:build linux && !watch_fsnotify

package watch

import (
	"fmt"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// chooseMode sets up write-open detection for opts.Mode.
func (w *Watcher) chooseMode() error {
	switch w.opts.Mode {
	case Auto:
		// Root, or a service user granted CAP_SYS_ADMIN (the systemd
		// unit in deploy/): the kernel says which, so ask it.
		if f, err := openFanotify(w.real); err == nil {
			w.fan, w.mode = f, Fanotify
			return nil
		}
		if leasesEnabled() {
			w.startLeases()
			return nil
		}
		w.mode = InotifyOnly
	case Fanotify:
		f, err := openFanotify(w.real)
		if err != nil {
			return fmt.Errorf("watch %s: fanotify mode: %w (it needs root, CAP_SYS_ADMIN, and a file system that takes a filesystem mark)", w.root, err)
		}
		w.fan, w.mode = f, Fanotify
	case Lease:
		if !leasesEnabled() {
			return fmt.Errorf("watch %s: lease mode: leases are disabled (fs.leases-enable is 0)", w.root)
		}
		w.startLeases()
	case InotifyOnly:
		w.mode = InotifyOnly
	default:
		return fmt.Errorf("watch %s: unknown mode %d", w.root, w.opts.Mode)
	}
	return nil
}

func (w *Watcher) startLeases() {
	w.mode = Lease
	w.leases = &leaseTable{max: w.opts.MaxLeases, files: map[string]*lease{}}
	// Notify before the first lease is taken: a break must never find the
	// signal ignored, or its writer waits for the kernel's lease-break-time.
	w.sigs = make(chan os.Signal, 1)
	signal.Notify(w.sigs, unix.SIGIO)
}

// dropLeases falls back from Lease to InotifyOnly.
func (w *Watcher) dropLeases() {
	w.leases.closeAll()
	w.leases = nil
	signal.Stop(w.sigs)
	w.sigs = nil
	w.mode = InotifyOnly
	clear(w.rearm)
}

// chooseTree sets up where tree changes come from, for opts.Tree.
func (w *Watcher) chooseTree() error {
	switch w.opts.Tree {
	case TreeAuto:
		t, err := openFanTree(w.real)
		if err == nil {
			w.ftree, w.tree = t, TreeFanotify
			return nil
		}
		w.treeWhy = err
	case TreeFanotify:
		t, err := openFanTree(w.real)
		if err != nil {
			return fmt.Errorf("watch %s: tree changes by fanotify: %w", w.root, err)
		}
		w.ftree, w.tree = t, TreeFanotify
		return nil
	case TreeInotify:
	default:
		return fmt.Errorf("watch %s: unknown tree watch %d", w.root, w.opts.Tree)
	}
	w.tree = TreeInotify
	return w.openInotify()
}
