package watch

import "fmt"

// Tree selects where a watcher learns of tree changes (creates, removals,
// renames, modifications and closes); see the package comment.
type Tree uint8

const (
	// TreeAuto: TreeFanotify where it works (root or CAP_SYS_ADMIN and
	// CAP_DAC_READ_SEARCH, Linux 5.17 or later, a file system that
	// reports file handles), else TreeInotify; Watcher.TreeFallback says
	// why fanotify was not used.
	TreeAuto Tree = iota
	// TreeInotify: one inotify watch per folder (fsnotify on other
	// systems). Bound by fs.inotify.max_user_watches.
	TreeInotify
	// TreeFanotify: one fanotify mark on the root's whole file system
	// reporting directory handles and names (FAN_REPORT_DFID_NAME), kept
	// to the paths below the root: no watch per folder, so no limit to
	// reach and no periodic rescan. Linux only.
	TreeFanotify
)

var treeNames = [...]string{TreeAuto: "auto", TreeInotify: "inotify", TreeFanotify: "fanotify"}

func (t Tree) String() string {
	if int(t) < len(treeNames) {
		return treeNames[t]
	}
	return fmt.Sprintf("Tree(%d)", uint8(t))
}

// ParseTree returns the Tree named by s, as Tree.String spells it.
func ParseTree(s string) (Tree, error) {
	for t, n := range treeNames {
		if s == n {
			return Tree(t), nil
		}
	}
	return TreeAuto, fmt.Errorf("unknown tree watch %q: want auto, fanotify or inotify", s)
}
