package agent

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/sync/scan"
	"github.com/peerlink/peerlink/wire"
)

// changedRoots returns what a catch-up's scan (wire.Scan.Changed) covers:
// the paths the session's journal names and those the hub asks for, each
// standing for itself and what is below it, none below another, with the
// journal's number read. why is set, and the whole root is to be scanned,
// when the journal cannot name what changed.
func (a *Agent) changedRoots(ctx context.Context, s *attached, m *wire.Scan) (roots []string, seq uint64, why string) {
	// The live watcher, started at the attachment, sees what changes from
	// then on; what changed before is the journaler's to have delivered
	// and committed by now.
	if wait := time.Until(s.attachedAt.Add(journalLag)); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, 0, "the scan was cancelled"
		}
	}
	if !a.syncJournal(ctx, s.name) {
		return nil, 0, "no journal is kept for the session's root"
	}
	j, err := a.db.ReadJournal(s.name)
	switch {
	case err != nil:
		return nil, 0, err.Error()
	case j.All:
		return nil, j.Seq, j.Reason
	}
	return topRoots(append(j.Paths, m.Paths...)), j.Seq, ""
}

// topRoots sorts paths and drops those below another.
func topRoots(paths []string) []string {
	slices.SortFunc(paths, func(a, b string) int {
		// "a/b" sorts right after "a", before "a-b": a folder's paths
		// follow it.
		return strings.Compare(strings.ReplaceAll(a, "/", "\x00"), strings.ReplaceAll(b, "/", "\x00"))
	})
	out := paths[:0]
	for _, p := range paths {
		if n := len(out); n > 0 && (p == out[n-1] || strings.HasPrefix(p, out[n-1]+"/")) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// scanRoots answers a catch-up's scan with roots only, then the last part
// with the journal's number. The scan cache is consulted and updated, not
// pruned: a partial scan does not know what is stale elsewhere.
func (a *Agent) scanRoots(ctx context.Context, c *broker.Client, in broker.Incoming, s *attached, roots []string, seq uint64) {
	start := time.Now()
	cache, err := a.openCache(s.name)
	if err != nil {
		a.fail(ctx, c, in, "scan", "", err)
		return
	}
	defer cache.Close()
	for rest := roots; len(rest) > 0; {
		n := min(len(rest), wire.MaxBatch)
		if err := c.Reply(ctx, in, &wire.ScanPart{Session: s.name, Roots: rest[:n]}, nil); err != nil {
			a.log.Debug().Err(err).Msg("scan reply")
			return
		}
		rest = rest[n:]
	}
	emit := func(batch []wire.Entry) error {
		return c.Reply(ctx, in, &wire.ScanPart{Session: s.name, Entries: batch}, nil)
	}
	// The roots' folders, as they are: the hub judges a path with its
	// folders (a scan listing a path without them contradicts itself).
	var folders []wire.Entry
	seen := map[string]bool{}
	for _, p := range roots {
		for i := strings.LastIndexByte(p, '/'); i > 0; i = strings.LastIndexByte(p, '/') {
			p = p[:i]
			if seen[p] {
				break
			}
			seen[p] = true
			if info, err := s.tree.Lstat(p); err == nil && info.Kind == wire.KindDir {
				folders = append(folders, info.Entry(p))
			}
		}
	}
	for len(folders) > 0 {
		n := min(len(folders), wire.MaxBatch)
		if err := emit(folders[:n]); err != nil {
			a.log.Debug().Err(err).Msg("scan reply")
			return
		}
		folders = folders[n:]
	}
	var stats wire.ScanStats
	var warnings []wire.Error
	for _, root := range roots {
		st, ws, err := scan.Run(ctx, s.tree, scan.Options{Filter: s.filter, Cache: cache, Under: root, KeepTemp: true}, emit)
		if err != nil {
			a.fail(ctx, c, in, "scan", root, err)
			return
		}
		stats.Files += st.Files
		stats.Dirs += st.Dirs
		stats.Bytes += st.Bytes
		stats.Hashed += st.Hashed
		stats.Skipped += st.Skipped
		warnings = append(warnings, ws...)
	}
	for i := range warnings {
		warnings[i].Host = a.cfg.Name
	}
	if !a.sendOpen(ctx, c, in, s, "") {
		return
	}
	for len(warnings) > warningsPerPart {
		if err := c.Reply(ctx, in, &wire.ScanPart{Session: s.name, Warnings: warnings[:warningsPerPart]}, nil); err != nil {
			a.log.Debug().Err(err).Msg("scan reply")
			return
		}
		warnings = warnings[warningsPerPart:]
	}
	a.log.Info().Str("session", s.name).Int("roots", len(roots)).Int64("files", stats.Files).Int64("dirs", stats.Dirs).
		Int64("hashed", stats.Hashed).Str("took", time.Since(start).Round(time.Millisecond).String()).Msg("catch-up scan of the changed paths done")
	done := &wire.ScanPart{Session: s.name, Done: true, Stats: stats, Warnings: warnings, Partial: true, Journal: seq}
	if err := c.Reply(ctx, in, done, nil); err != nil {
		a.log.Debug().Err(err).Msg("scan reply")
	}
}
