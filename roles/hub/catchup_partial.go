package hub

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/wire"
)

// A partial catch-up (issue 14, item 3: "its catch-up is proportional to
// what changed, not to the size of the tree"). The returning host's agent
// keeps a journal of the paths changed under its root since the hub last
// merged it (roles/agent/journal.go); the catch-up's scan asks it for
// those paths and the ledger's (what changed elsewhere meanwhile), each
// with what is below it. When the journal can name them, the agent scans
// those roots only and says so (ScanPart.Partial, Roots); the merge then
// reads the index under those roots only (one seek each, store.IndexUnder)
// and takes everything else on the host as unchanged since the index. Both
// sides of every path that changed are in the merge, so the engine and the
// session's conflict rules decide them exactly as at a full catch-up; a
// path outside the roots changed nowhere, so it has nothing to decide.
// When the journal cannot (the agent restarted, lost events, or more than
// store.JournalMax paths changed), the agent scans its whole root and the
// full merge (mergeCatchUp) runs, as before.

// catchUpScan asks host for a catch-up's scan: of the paths changed, with
// those its ledger lists, when the ledger is small enough to name in the
// request; otherwise of the whole root.
// A host merged as new (fresh, rootid.go) scans its whole root.
func (r *run) catchUpScan(ctx context.Context, c *broker.Client, host string, fresh bool, each func(*wire.ScanPart) error) error {
	ledger, err := r.h.db.AwayLedger(r.cfg.Name, host)
	if err != nil {
		return err
	}
	m := &wire.Scan{Session: r.cfg.Name, Changed: !fresh && len(ledger) <= wire.MaxBatch}
	if m.Changed {
		for p := range ledger {
			m.Paths = append(m.Paths, p)
		}
	}
	s, err := c.Call(ctx, host, m, nil)
	if err != nil {
		return wire.ToError("scan", host, "", err)
	}
	defer s.Close()
	for {
		in, err := s.Recv(ctx)
		if err != nil {
			return wire.ToError("scan", host, "", err)
		}
		part, ok := in.Msg.(*wire.ScanPart)
		if !ok {
			return fmt.Errorf("scan on %s: unexpected reply %s", host, in.Type)
		}
		if err := each(part); err != nil {
			return err
		}
		if part.Done {
			return nil
		}
	}
}

// mergePartial merges a partial scan: the index and the ledger under its
// roots only. What the ledger holds outside them (changed elsewhere since
// the scan was asked for) stays in it, for the next round.
func (r *run) mergePartial(host string, cu *catchUp, res catchResult) *conflict.Plan {
	cu.round++
	// The roots' folders too, as they are (the engine judges a path with
	// its folders); the agent's scan lists them (ancestors).
	folders := ancestors(res.roots)
	current, err := r.h.db.IndexUnder(r.cfg.Name, res.roots, folders)
	if err != nil {
		r.log.Error().Err(err).Msg("catch-up: read the index")
		return &conflict.Plan{}
	}
	ledger, err := r.h.db.AwayLedger(r.cfg.Name, host)
	if err != nil {
		r.log.Error().Err(err).Msg("catch-up: away ledger")
		return &conflict.Plan{}
	}
	roots := make(map[string]bool, len(res.roots))
	for _, p := range res.roots {
		roots[p] = true
	}
	outside := map[string]store.AwayBase{}
	for p, b := range ledger {
		if !underRoots(p, roots) && !slices.Contains(folders, p) {
			outside[p] = b
			delete(ledger, p)
		}
	}
	size, err := r.h.db.IndexSize(r.cfg.Name)
	if err != nil {
		r.log.Error().Err(err).Msg("catch-up: index size")
	}
	r.log.Info().Str("host", host).Int("roots", len(res.roots)).Int("scanned", len(res.scan)).Int("index", size).
		Int("read", len(current)).Msg("catch-up: partial scan")
	r.event("catch-up-scan", host, "", fmt.Sprintf("%s: partial catch-up: scanned %d of %d paths (%d changed path(s) on %s or elsewhere; the rest unchanged since the index)",
		host, len(res.scan), size, len(res.roots), host))
	r.h.metrics.CatchUpScanned(r.cfg.Name, host, true, len(res.scan))
	plan := r.mergeRound(host, cu, res.scan, res.skipped, res.writing, current, ledger, r.trackedFiles)
	if len(outside) > 0 {
		if err := r.h.db.PutAway(r.cfg.Name, host, outside); err != nil {
			r.log.Error().Err(err).Msg("catch-up: away ledger")
		}
	}
	return plan
}

// ancestors returns the folders above roots, each once, in no order.
func ancestors(roots []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range roots {
		for i := strings.LastIndexByte(p, '/'); i > 0; i = strings.LastIndexByte(p, '/') {
			p = p[:i]
			if seen[p] {
				break
			}
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// underRoots says whether p is one of roots or below one.
func underRoots(p string, roots map[string]bool) bool {
	for {
		if roots[p] {
			return true
		}
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return false
		}
		p = p[:i]
	}
}

// clearJournal has host forget its change journal up to seq, which the
// catch-up merged; a host that does not hear it keeps the paths, which
// its next catch-up scans again: harmless.
func (r *run) clearJournal(lc *liveCtx, host string, seq uint64) {
	if seq == 0 {
		return
	}
	lc.wg.Go(func() {
		if _, err := lc.c.Request(lc.ctx, host, &wire.JournalClear{Session: r.cfg.Name, Seq: seq}, nil); err != nil {
			r.log.Debug().Err(err).Str("host", host).Msg("clear the change journal")
		}
	})
}

// clearJournals has every host that the start scanned forget its change
// journal up to that scan, now merged: a later catch-up scans only what
// changes from here on. A host that does not hear it keeps the paths.
func (r *run) clearJournals(ctx context.Context, c *broker.Client) {
	r.mu.Lock()
	seqs := r.scanJournal
	r.scanJournal = map[string]uint64{}
	r.mu.Unlock()
	for host, seq := range seqs {
		if seq == 0 {
			continue
		}
		if _, err := c.Request(ctx, host, &wire.JournalClear{Session: r.cfg.Name, Seq: seq}, nil); err != nil {
			r.log.Debug().Err(err).Str("host", host).Msg("clear the change journal")
		}
	}
}
