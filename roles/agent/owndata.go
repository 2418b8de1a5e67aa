package agent

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/peerlink/peerlink/wire"
)

// checkOwnData refuses a root that is, holds or lies inside this agent's
// data folder: a session would copy agent.db (lock records, scan cache) to
// the other hosts and write theirs over it. The folders are compared by
// identity (device and inode) along both paths' ancestors, so neither a
// symlink nor a bind mount hides the overlap. A root that cannot be
// resolved is left to tree.Open, which says why.
func (a *Agent) checkOwnData(root string) error {
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil
	}
	data, err := filepath.Abs(a.cfg.DataDir)
	if err != nil {
		return nil
	}
	if d, err := filepath.EvalSymlinks(data); err == nil {
		data = d
	}
	ri, err := os.Stat(real)
	if err != nil {
		return nil
	}
	di, err := os.Stat(data)
	if err != nil {
		return nil
	}
	how := ""
	switch {
	case os.SameFile(ri, di):
		how = "is"
	case ancestorIs(real, di):
		how = "lies inside"
	case ancestorIs(data, ri):
		how = "holds"
	default:
		return nil
	}
	return &wire.Error{Kind: wire.KindInvalid,
		Msg: fmt.Sprintf("root %s %s this agent's data folder %s (--data, which holds agent.db): no root may hold peerlink's own state; give %s another root (peerlink session set NAME --host %s=/path) or run the agent with its --data elsewhere",
			root, how, a.cfg.DataDir, a.cfg.Name, a.cfg.Name)}
}

// ancestorIs reports whether a folder strictly above p is dir.
func ancestorIs(p string, dir os.FileInfo) bool {
	for {
		up := filepath.Dir(p)
		if up == p {
			return false
		}
		if fi, err := os.Stat(up); err == nil && os.SameFile(fi, dir) {
			return true
		}
		p = up
	}
}
