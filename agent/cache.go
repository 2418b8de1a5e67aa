package agent

import (
	"fmt"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/sync/scan"
	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/wire"
)

// scanCache adapts the agent.db scan cache of one session to scan.Cache.
// The store's reader remembers every path looked up, so pruning the records
// of vanished files needs no help from Seen: Finish prunes after a complete
// scan, and a failed scan prunes nothing.
type scanCache struct {
	a       *Agent
	session string
	r       *store.CacheReader
}

func (a *Agent) openCache(session string) (*scanCache, error) {
	r, err := a.db.BeginScan(session)
	if err != nil {
		return nil, err
	}
	return &scanCache{a: a, session: session, r: r}, nil
}

func (c *scanCache) Lookup(path string) (scan.Cached, bool) {
	v, ok := c.r.Lookup(path)
	return scan.Cached(v), ok
}

func (c *scanCache) Update(changed []scan.CachedPath) error {
	out := make([]store.CachedPath, len(changed))
	for i, p := range changed {
		out[i] = store.CachedPath{Path: p.Path, Cached: store.Cached(p.Cached)}
	}
	return c.a.db.UpdateCache(c.session, out, nil)
}

func (c *scanCache) Seen([]string) error { return nil }

// Finish drops the records of files the completed scan did not see.
func (c *scanCache) Finish() error {
	if err := c.r.Err(); err != nil {
		return err
	}
	if _, err := c.r.Prune(); err != nil {
		return fmt.Errorf("scan cache %s: %w", c.session, err)
	}
	return nil
}

func (c *scanCache) Close() error { return c.r.Close() }

// recordApplied writes the files this agent just committed into its scan
// cache, so that the next start does not read back what was just verified
// end to end. A copy that no longer matches what was committed (a user
// touched it already) is left for the next scan to hash; removed paths are
// dropped. staged, beside results (nil where an op was not staged), gives
// the state of each staged file right after it was put in place, which
// spares a stat per file.
func (a *Agent) recordApplied(session string, results []wire.OpResult, staged []*tree.Staged) {
	s, err := a.session(session)
	if err != nil {
		return
	}
	var changed []store.CachedPath
	var removed []string
	for i := range results {
		r := &results[i]
		if r.Error != nil {
			continue
		}
		switch r.Kind {
		case wire.OpDelete:
			removed = append(removed, r.Path)
		case wire.OpFetch:
			var info tree.Info
			var ok bool
			if i < len(staged) && staged[i] != nil {
				info, ok = staged[i].Info()
			}
			if !ok {
				info, err = s.tree.Lstat(r.Path)
			}
			if err != nil || info.Kind != wire.KindFile || info.Size != r.Entry.Size || info.Mtime != r.Entry.Mtime {
				continue
			}
			changed = append(changed, store.CachedPath{Path: r.Path, Cached: store.Cached{
				Size: info.Size, Mtime: info.Mtime, Ctime: info.Ctime, Ino: info.Ino, Hash: r.Entry.Hash}})
		}
	}
	if len(changed) == 0 && len(removed) == 0 {
		return
	}
	if err := a.db.UpdateCache(session, changed, removed); err != nil {
		a.log.Warn().Err(err).Str("session", session).Msg("record applied files in the scan cache")
	}
}
