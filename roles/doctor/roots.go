package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/sync/watch"
)

// ownData is peerlink's folder at a root's top (the protected area), which
// the agent does not watch.
const ownData = ".peerlink"

// maxFolders bounds the count of a root's folders: past it the count says
// "at least".
const maxFolders = 10_000_000

// checkRoot checks one root: the agent can use it, the watcher can watch
// it, a lock can be enforced on it, and it has room.
func checkRoot(root string) []Result {
	name := func(what string) string { return what + " " + root }
	t, err := tree.OpenFor(root, "this host")
	if err == nil {
		err = t.CheckWritable()
		t.Close()
	}
	if err != nil {
		skipped := "could not run: the root cannot be used (see above)"
		return []Result{
			{Check: name("root"), Status: Fail, Detail: err.Error(), Fix: "run doctor as the agent's user; give that user read and write access to the root"},
			{Check: name("tree"), Status: Skip, Detail: skipped},
			{Check: name("watches"), Status: Skip, Detail: skipped},
			{Check: name("immutable"), Status: Skip, Detail: skipped},
			{Check: name("space"), Status: Skip, Detail: skipped},
		}
	}
	out := []Result{{Check: name("root"), Status: OK, Detail: "readable and writable by uid " + fmt.Sprint(os.Geteuid())}}
	p := watch.ProbeRoot(root)
	out = append(out, treeWatch(p), watches(root, p), writeOpens(p), immutable(root), space(root))
	for i := 1; i < len(out); i++ {
		out[i].Check = name(out[i].Check)
	}
	return out
}

// watches compares the root's folders with the inotify watch limit.
func watches(root string, p watch.Probe) Result {
	folders, unreadable := countFolders(root)
	count := fmt.Sprint(folders)
	if folders >= maxFolders {
		count = "at least " + count
	}
	detail := count + " folder"
	if folders != 1 {
		detail += "s"
	}
	if unreadable > 0 {
		detail += fmt.Sprintf(" (and %d this user cannot read: not counted, nor synchronised)", unreadable)
	}
	if p.MaxWatches == 0 {
		if runtime.GOOS == "linux" {
			return Result{Check: "watches", Status: Skip, Detail: detail + "; fs.inotify.max_user_watches cannot be read"}
		}
		return Result{Check: "watches", Status: OK, Detail: detail + "; no per-folder watch limit on " + runtime.GOOS}
	}
	detail += fmt.Sprintf(", fs.inotify.max_user_watches %d", p.MaxWatches)
	if p.FanotifyTree == nil {
		return Result{Check: "watches", Status: OK, Detail: detail + ": not needed, tree changes come from fanotify (see tree)"}
	}
	// The limit is the user's, for every root and every other program: keep
	// a tenth free.
	if folders > p.MaxWatches-p.MaxWatches/10 {
		want := 1 << 20
		for want < 2*folders {
			want *= 2
		}
		return Result{Check: "watches", Status: Warn, Detail: detail + ": the agent watches part of the root and rescans it every 30s",
			Fix: fmt.Sprintf("sysctl -w fs.inotify.max_user_watches=%d, and the same line in /etc/sysctl.d/90-peerlink.conf", want)}
	}
	return Result{Check: "watches", Status: OK, Detail: detail}
}

// countFolders counts root's folders, peerlink's own left out, and the
// folders it could not read.
func countFolders(root string) (folders, unreadable int) {
	filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if d != nil && d.IsDir() && path != root {
				unreadable++
			}
			return nil
		}
		if !d.IsDir() {
			return nil
		}
		if d.Name() == ownData && filepath.Dir(path) == filepath.Clean(root) {
			return filepath.SkipDir
		}
		folders++
		if folders >= maxFolders {
			return filepath.SkipAll
		}
		return nil
	})
	return folders, unreadable
}

// treeWatch says where the agent (--watch-tree auto) would take tree
// changes from.
func treeWatch(p watch.Probe) Result {
	if p.FanotifyTree == nil {
		return Result{Check: "tree", Status: OK, Detail: "changes seen by fanotify on the whole file system: no watch per folder, no limit, no periodic rescan"}
	}
	if errors.Is(p.FanotifyTree, errors.ErrUnsupported) {
		return Result{Check: "tree", Status: OK, Detail: "changes seen by a watch per folder: " + runtime.GOOS + " has no fanotify"}
	}
	return Result{Check: "tree", Status: OK, Detail: "changes seen by inotify, a watch per folder (see watches); fanotify: " + p.FanotifyTree.Error(),
		Fix: "for no watch limit at all: run the agent as root, or grant it CAP_SYS_ADMIN and CAP_DAC_READ_SEARCH, on Linux 5.17 or later"}
}

// writeOpens says how a write-open will be seen.
func writeOpens(p watch.Probe) Result {
	if p.Fanotify == nil {
		return Result{Check: "write-opens", Status: OK, Detail: "seen as they happen, whoever opens (fanotify)"}
	}
	if errors.Is(p.Fanotify, errors.ErrUnsupported) {
		return Result{Check: "write-opens", Status: Warn, Detail: "seen at the file's first change: " + runtime.GOOS + " has no fanotify"}
	}
	fix := "run the agent as root, or grant it CAP_SYS_ADMIN and CAP_SYS_PTRACE (see deploy/systemd/peerlink-agent.service)"
	if p.Leases {
		return Result{Check: "write-opens", Status: Warn, Detail: "by file leases, for the files the agent's user owns (or all, with CAP_LEASE); fanotify: " + p.Fanotify.Error(), Fix: fix}
	}
	return Result{Check: "write-opens", Status: Warn, Detail: "only at the file's first change: no fanotify (" + p.Fanotify.Error() + ") and leases are off (fs.leases-enable=0)",
		Fix: fix + "; or sysctl -w fs.leases-enable=1"}
}
