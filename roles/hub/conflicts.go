package hub

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// resolveTimeout bounds one path's resolution: its scans and transfers.
const resolveTimeout = 30 * time.Minute

// Conflicts returns a session's File Conflict List, in path order.
func (h *Hub) Conflicts(name string) ([]api.Conflict, error) {
	if _, err := h.config(name); err != nil {
		return nil, err
	}
	qs, err := h.db.Quarantines(name)
	if err != nil {
		return nil, err
	}
	out := make([]api.Conflict, 0, len(qs))
	for _, q := range qs {
		out = append(out, conflictOf(q))
	}
	slices.SortFunc(out, func(a, b api.Conflict) int { return strings.Compare(a.Path, b.Path) })
	h.fillOwners(name, out)
	return out, nil
}

func conflictOf(q store.Quarantine) api.Conflict {
	c := api.Conflict{Path: q.Path, Reason: string(q.Reason), Detail: q.Detail, Since: q.Created}
	for _, cp := range q.Copies {
		c.Copies = append(c.Copies, copyOf(cp.Host, cp.Entry))
	}
	return c
}

func copyOf(host string, e wire.Entry) api.Copy {
	c := api.Copy{Host: host}
	switch e.Kind {
	case wire.KindFile:
		c.Exists, c.Kind, c.Size, c.Hash = true, "file", e.Size, e.Hash.String()
	case wire.KindDir:
		c.Exists, c.Kind = true, "dir"
	default:
		return c
	}
	c.Mtime = time.Unix(0, e.Mtime).UTC()
	c.Mode = fmt.Sprintf("%04o", e.Mode)
	return c
}

// Resolve makes the winner's copy of a conflicted path (or of every listed
// path) the one every host holds, and removes it from the list. Each path
// is settled on its own: one that fails stays listed with the reason.
// Resolutions of one session run one at a time.
func (h *Hub) Resolve(name string, req api.ResolveRequest, user string) (api.ResolveResult, error) {
	cfg, err := h.config(name)
	if err != nil {
		return api.ResolveResult{}, err
	}
	if !slices.ContainsFunc(cfg.Hosts, func(hr api.HostRoot) bool { return hr.Host == req.Winner }) {
		return api.ResolveResult{}, invalid("--winner %s is not a host of session %s (its hosts: %s)", req.Winner, name, hostList(cfg))
	}
	if (req.Path == "") == !req.All {
		return api.ResolveResult{}, invalid("name one conflicted path, or --all")
	}
	r := h.run(name)
	if r == nil || r.phase() != api.PhaseRunning {
		return api.ResolveResult{}, fmt.Errorf("%w: session %s is not running: conflicts are resolved through its agents, so start it first (peerlink session start %s --wait)", ErrBusy, name, name)
	}
	c := h.client()
	if c == nil {
		return api.ResolveResult{}, errUnreachableBroker()
	}

	var paths []string
	if req.All {
		qs, err := h.db.Quarantines(name)
		if err != nil {
			return api.ResolveResult{}, err
		}
		for _, q := range qs {
			paths = append(paths, q.Path)
		}
	} else {
		if _, err := h.db.Quarantine(name, req.Path); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return api.ResolveResult{}, fmt.Errorf("%w: %s is not in the File Conflict List of session %s (see peerlink conflicts list %s)", ErrNotFound, req.Path, name, name)
			}
			return api.ResolveResult{}, err
		}
		paths = []string{req.Path}
	}

	mu := h.resolveLock(name)
	mu.Lock()
	defer mu.Unlock()
	res := api.ResolveResult{Resolved: []string{}}
	for _, p := range paths {
		ctx, cancel := context.WithTimeout(r.ctx(), resolveTimeout)
		err := h.resolvePath(ctx, c, cfg, p, req.Winner, user)
		cancel()
		if err != nil {
			h.log.Warn().Str("session", name).Str("path", p).Str("winner", req.Winner).Err(err).Msg("conflict not resolved")
			res.Failed = append(res.Failed, api.ResolveFailed{Path: p, Error: err.Error()})
			continue
		}
		res.Resolved = append(res.Resolved, p)
	}
	h.notify(api.NoticeConflicts, name)
	r.update(func(st *api.SessionStatus) {
		for _, p := range res.Resolved {
			if r.quarantine[p] {
				delete(r.quarantine, p)
				st.Quarantined--
			}
		}
	})
	if !req.All && len(res.Failed) == 1 {
		return res, fmt.Errorf("%w: %s", ErrInvalid, res.Failed[0].Error)
	}
	return res, nil
}

func hostList(cfg api.SessionConfig) string {
	names := make([]string, len(cfg.Hosts))
	for i, hr := range cfg.Hosts {
		names[i] = hr.Host
	}
	return strings.Join(names, ", ")
}

func (h *Hub) resolveLock(session string) *sync.Mutex {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.resolving == nil {
		h.resolving = map[string]*sync.Mutex{}
	}
	mu := h.resolving[session]
	if mu == nil {
		mu = &sync.Mutex{}
		h.resolving[session] = mu
	}
	return mu
}

// resolvePath looks at every host's copy of p now, has every other host
// take the winner's, then records the path as synchronised and drops its
// quarantine. Every op carries the target's copy as just seen, so a copy
// changed meanwhile is refused rather than overwritten, and the agents keep
// a protected copy of whatever they replace or delete.
func (h *Hub) resolvePath(ctx context.Context, c *broker.Client, cfg api.SessionConfig, p, winner, user string) error {
	copies, err := scanCopies(ctx, c, cfg, p)
	if err != nil {
		return err
	}
	won := copies[winner]
	if _, ok := won[p]; !ok {
		return fmt.Errorf("the copy of %s on %s no longer exists: choose a host that holds it", p, winner)
	}
	if err := takeWinner(ctx, c, cfg, p, winner, copies); err != nil {
		return err
	}
	return h.recordResolved(cfg, p, winner, user, won)
}

// scanCopies returns every host's entries at p and below, by host.
func scanCopies(ctx context.Context, c *broker.Client, cfg api.SessionConfig, p string) (map[string]map[string]wire.Entry, error) {
	copies := make(map[string]map[string]wire.Entry, len(cfg.Hosts))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for _, hr := range cfg.Hosts {
		g.Go(func() error {
			got := map[string]wire.Entry{}
			err := scanHost(gctx, c, cfg.Name, hr.Host, p, func(part *wire.ScanPart) error {
				for _, e := range part.Entries {
					got[e.Path] = e
				}
				if part.Done && len(part.Warnings) > 0 {
					w := part.Warnings[0]
					w.Host = hr.Host
					return fmt.Errorf("the copy on %s cannot be read completely: %w", hr.Host, &w)
				}
				return nil
			})
			mu.Lock()
			copies[hr.Host] = got
			mu.Unlock()
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return copies, nil
}

// takeWinner has every host but winner turn its copy of p into winner's.
func takeWinner(ctx context.Context, c *broker.Client, cfg api.SessionConfig, p, winner string, copies map[string]map[string]wire.Entry) error {
	won := copies[winner]
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	var failed []string
	for _, hr := range cfg.Hosts {
		if hr.Host == winner {
			continue
		}
		ops := resolveOps(p, winner, won, copies[hr.Host])
		if len(ops) == 0 {
			continue
		}
		g.Go(func() error {
			return applyOps(gctx, c, &cfg, hr.Host, ops, nil, 0, func(results []wire.OpResult) error {
				mu.Lock()
				defer mu.Unlock()
				for _, res := range results {
					if res.Error != nil {
						e := *res.Error
						e.Host = hr.Host
						failed = append(failed, e.Error())
					}
				}
				return nil
			})
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d operations failed, the path stays in the list: %s", len(failed), strings.Join(failed[:min(len(failed), 3)], "; "))
	}
	return nil
}

// recordResolved records p as synchronised on every host as won, the
// winner's entries, and drops its quarantine.
func (h *Hub) recordResolved(cfg api.SessionConfig, p, winner, user string, won map[string]wire.Entry) error {
	hosts := make([]string, len(cfg.Hosts))
	for i, hr := range cfg.Hosts {
		hosts[i] = hr.Host
	}
	recs := make([]conflict.Record, 0, len(won))
	for _, e := range won {
		recs = append(recs, conflict.Record{Entry: e, Hosts: hosts})
	}
	var stale []string
	err := h.db.ForEachIndex(cfg.Name, p+"/", func(rec conflict.Record) error {
		if _, ok := won[rec.Entry.Path]; !ok {
			stale = append(stale, rec.Entry.Path)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := h.db.PutIndex(cfg.Name, recs); err != nil {
		return err
	}
	if err := h.db.DeleteIndex(cfg.Name, stale); err != nil {
		return err
	}
	if err := h.db.DeleteQuarantines(cfg.Name, []string{p}); err != nil {
		return err
	}
	ev := store.Event{Kind: "conflict-resolved", Host: winner, Path: p, User: user,
		Msg: fmt.Sprintf("%s resolved: the copy on %s won", p, winner)}
	if err := h.appendEvent(cfg.Name, ev); err != nil {
		h.log.Error().Err(err).Msg("record resolution event")
	}
	h.log.Info().Str("session", cfg.Name).Str("path", p).Str("winner", winner).Str("user", user).Msg("conflict resolved")
	return nil
}

// resolveOps returns the ops that turn a target's copy of p (have: its
// entries at p and below) into the winner's (want). A copy of another kind
// at a path is deleted before the winner's is made; what the target has
// that the winner lacks is deleted last, a folder by one op.
func resolveOps(p, winner string, want, have map[string]wire.Entry) []wire.Op {
	var replace, mkdirs, fetches, deletes []wire.Op
	gone := map[string]bool{} // paths deleted whole, by replace or deletes
	under := func(q string) bool {
		for d := q; ; {
			i := strings.LastIndexByte(d, '/')
			if i < 0 {
				return false
			}
			d = d[:i]
			if gone[d] {
				return true
			}
		}
	}
	for _, w := range sortedEntries(want) {
		e, ok := have[w.Path]
		if ok && under(w.Path) {
			ok = false
		}
		if ok && e.Kind != w.Kind {
			replace = append(replace, wire.Op{Kind: wire.OpDelete, Path: w.Path, Have: ptr(e)})
			gone[w.Path] = true
			ok = false
		}
		switch {
		case w.Kind == wire.KindDir && !ok:
			mkdirs = append(mkdirs, wire.Op{Kind: wire.OpMkdir, Path: w.Path, Want: w})
		case w.Kind == wire.KindDir:
			if e.Mode != w.Mode {
				fetches = append(fetches, wire.Op{Kind: wire.OpMeta, Path: w.Path, Want: w, Have: ptr(e)})
			}
		case !ok:
			fetches = append(fetches, wire.Op{Kind: wire.OpFetch, Path: w.Path, From: winner, Want: w})
		case e.Size != w.Size || e.Hash != w.Hash:
			fetches = append(fetches, wire.Op{Kind: wire.OpFetch, Path: w.Path, From: winner, Want: w, Have: ptr(e)})
		case e.Mtime != w.Mtime || e.Mode != w.Mode:
			fetches = append(fetches, wire.Op{Kind: wire.OpMeta, Path: w.Path, Want: w, Have: ptr(e)})
		}
	}
	for _, e := range sortedEntries(have) {
		if _, ok := want[e.Path]; ok || gone[e.Path] || under(e.Path) {
			continue
		}
		deletes = append(deletes, wire.Op{Kind: wire.OpDelete, Path: e.Path, Have: ptr(e)})
		gone[e.Path] = true
	}
	return slices.Concat(replace, mkdirs, fetches, deletes)
}

func sortedEntries(m map[string]wire.Entry) []wire.Entry {
	out := make([]wire.Entry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	// Plain byte order puts a folder before everything below it.
	slices.SortFunc(out, func(a, b wire.Entry) int { return cmp.Compare(a.Path, b.Path) })
	return out
}

func ptr(e wire.Entry) *wire.Entry { return &e }
