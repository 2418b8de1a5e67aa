package hub

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// An operator's decision on held deletions (breaker.go). Approve deletes
// them everywhere, as the live loop propagates any removal, and needs the
// session running. Discard brings the files back to the host that lost
// them: the index stops listing the host as holding them (so a start or
// a catch-up would fetch them to it, by the engine's rules), and a running
// session fetches them at once. A held path that changed since it was
// held (written again anywhere, or deleted by another host) is no longer
// the deleted version: it is dropped from the decision and stays as it is.

// deletionsOrder is a decision handed to the live loop, which alone
// changes the index of a running session.
type deletionsOrder struct {
	host, action, user string
	reply              chan deletionsReply
}

type deletionsReply struct {
	paths int
	err   error
}

// Deletions approves or discards a host's held deletions in session name.
func (h *Hub) Deletions(name string, req api.DeletionsRequest, user string) (api.DeletionsResult, error) {
	cfg, err := h.config(name)
	if err != nil {
		return api.DeletionsResult{}, err
	}
	if req.Action != api.DeletionsApprove && req.Action != api.DeletionsDiscard {
		return api.DeletionsResult{}, invalid("action %q: use --approve or --discard", req.Action)
	}
	held, err := h.db.HeldHosts(name)
	if err != nil {
		return api.DeletionsResult{}, err
	}
	host := req.Host
	if host == "" {
		if len(held) != 1 {
			return api.DeletionsResult{}, fmt.Errorf("%w: session %s holds the deletions of %d hosts: name one with --host (see peerlink session status %s)", ErrNotFound, name, len(held), name)
		}
		for host = range held {
		}
	}
	if !slices.ContainsFunc(cfg.Hosts, func(hr api.HostRoot) bool { return hr.Host == host }) {
		return api.DeletionsResult{}, invalid("--host %s is not a host of session %s (its hosts: %s)", host, name, hostList(cfg))
	}
	if _, ok := held[host]; !ok {
		return api.DeletionsResult{}, fmt.Errorf("%w: no deletions of %s are held in session %s", ErrNotFound, host, name)
	}
	mu := h.resolveLock(name)
	mu.Lock()
	defer mu.Unlock()
	res := api.DeletionsResult{Host: host, Action: req.Action}
	r := h.run(name)
	switch {
	case r != nil && r.phase() == api.PhaseRunning:
		o := deletionsOrder{host: host, action: req.Action, user: user, reply: make(chan deletionsReply, 1)}
		select {
		case r.deletionsIn <- o:
		case <-r.ctx().Done():
			return res, fmt.Errorf("%w: session %s is stopping", ErrBusy, name)
		}
		select {
		case rep := <-o.reply:
			res.Paths = rep.paths
			return res, rep.err
		case <-r.ctx().Done():
			return res, fmt.Errorf("%w: session %s stopped before the decision was carried out; held deletions stay held until it is", ErrBusy, name)
		}
	case r != nil:
		return res, fmt.Errorf("%w: session %s is %s: decide on its held deletions once it runs (peerlink session start %s --wait)", ErrBusy, name, r.phase(), name)
	case req.Action == api.DeletionsApprove:
		return res, fmt.Errorf("%w: session %s is stopped: held deletions are approved through its agents, so start it first (peerlink session start %s --wait); they stay held meanwhile", ErrBusy, name, name)
	}
	paths, err := h.db.HeldDeletions(name, host)
	if err != nil {
		return res, err
	}
	back, err := h.unlistHeld(name, host, paths)
	if err != nil {
		return res, err
	}
	if err := h.db.ReleaseDeletions(name, host); err != nil {
		return res, err
	}
	res.Paths = len(back)
	if _, err := h.db.AppendEvents(name, store.Event{Kind: "deletions-discarded", Host: host,
		Msg: fmt.Sprintf("%s discarded %s's %d held deletions: the next start brings the files back to it", user, host, len(back))}); err != nil {
		h.log.Error().Err(err).Msg("event log")
	}
	h.notify(api.NoticeSessions, name)
	return res, nil
}

// unlistHeld takes host out of the index records of its held paths that
// still hold the deleted version, and returns those records as they are
// now.
func (h *Hub) unlistHeld(name, host string, paths map[string]wire.Entry) ([]conflict.Record, error) {
	var back []conflict.Record
	for p, e := range paths {
		rec, ok, err := h.db.Index(name, p)
		if err != nil {
			return nil, err
		}
		if !ok || rec.Entry != e || !slices.Contains(rec.Hosts, host) {
			continue
		}
		rec.Hosts = slices.DeleteFunc(slices.Clone(rec.Hosts), func(x string) bool { return x == host })
		back = append(back, rec)
	}
	if err := h.db.PutIndex(name, back); err != nil {
		return nil, err
	}
	return back, nil
}

// decideHeld carries out o in the live loop.
func (r *run) decideHeld(lc *liveCtx, o deletionsOrder) {
	var rep deletionsReply
	if o.action == api.DeletionsApprove {
		rep.paths, rep.err = r.approveHeld(lc, o.host, o.user)
	} else {
		rep.paths, rep.err = r.discardHeld(lc.ctx, lc, o.host, o.user)
	}
	r.h.notify(api.NoticeSessions, r.cfg.Name)
	o.reply <- rep
}

// approveHeld propagates host's held deletions as the removes host
// reported, past the breaker.
func (r *run) approveHeld(lc *liveCtx, host, user string) (int, error) {
	paths, err := r.h.db.HeldDeletions(r.cfg.Name, host)
	if err != nil {
		return 0, err
	}
	set := map[string]bool{}
	for p, e := range paths {
		rec, ok, err := r.h.db.Index(r.cfg.Name, p)
		if err != nil {
			return 0, err
		}
		if ok && rec.Entry == e {
			set[p] = true
		}
	}
	// One remove for the highest path of each subtree: removing a folder
	// removes what is below it on every target.
	var batch []wire.Change
	for p := range set {
		if parent, ok := parentOf(p); !ok || !conflict.UnderAny(parent, set) {
			batch = append(batch, wire.Change{Kind: wire.ChangeRemove, Path: p})
		}
	}
	sort.Slice(batch, func(i, j int) bool { return batch[i].Path < batch[j].Path })
	if err := r.h.db.ReleaseDeletions(r.cfg.Name, host); err != nil {
		return 0, err
	}
	delete(r.held, host)
	delete(r.burst, host)
	r.changes(lc.ctx, lc.c, host, batch)
	r.event("deletions-approved", host, "", fmt.Sprintf("%s approved %s's held deletions: %d paths deleted on every host", user, host, len(set)))
	r.log.Info().Str("host", host).Int("paths", len(set)).Str("by", user).Msg("held deletions approved")
	return len(set), nil
}

// discardHeld brings host's held deletions back to it from the hosts that
// hold them.
func (r *run) discardHeld(ctx context.Context, lc *liveCtx, host, user string) (int, error) {
	paths, err := r.h.db.HeldDeletions(r.cfg.Name, host)
	if err != nil {
		return 0, err
	}
	back, err := r.h.unlistHeld(r.cfg.Name, host, paths)
	if err != nil {
		return 0, err
	}
	if err := r.h.db.ReleaseDeletions(r.cfg.Name, host); err != nil {
		return 0, err
	}
	delete(r.held, host)
	delete(r.burst, host)
	var ops []wire.Op
	for _, rec := range back {
		switch rec.Entry.Kind {
		case wire.KindDir:
			ops = append(ops, wire.Op{Kind: wire.OpMkdir, Path: rec.Entry.Path, Want: rec.Entry})
		case wire.KindFile:
			if from, ok := r.sourceOf(rec, host); ok {
				ops = append(ops, wire.Op{Kind: wire.OpFetch, Path: rec.Entry.Path, From: from, Want: rec.Entry})
			}
		}
	}
	// Parents before what is below them.
	sort.Slice(ops, func(i, j int) bool { return ops[i].Path < ops[j].Path })
	failed := 0
	if len(ops) > 0 && r.away[host] == nil {
		ok, failures := r.applyChanges(ctx, lc.c, map[string][]wire.Op{host: ops})
		var adds []store.HostPath
		for _, op := range ops {
			if ok[op.Path][host] {
				adds = append(adds, store.HostPath{Host: host, Path: op.Path})
			}
		}
		if _, err := r.h.db.AddIndexHosts(r.cfg.Name, adds); err != nil {
			return 0, err
		}
		failed = len(failures)
	}
	msg := fmt.Sprintf("%s discarded %s's held deletions: %d paths brought back to it", user, host, len(back))
	if failed > 0 || r.away[host] != nil {
		msg += fmt.Sprintf(" (%d not yet: they come with its next catch-up or start)", failed)
	}
	r.event("deletions-discarded", host, "", msg)
	r.log.Info().Str("host", host).Int("paths", len(back)).Int("failed", failed).Str("by", user).Msg("held deletions discarded")
	return len(back), nil
}

// sourceOf returns a connected host other than host that holds rec.
func (r *run) sourceOf(rec conflict.Record, host string) (string, bool) {
	for _, h := range rec.Hosts {
		if h != host && r.away[h] == nil && r.h.connected(h) {
			return h, true
		}
	}
	return "", false
}

func parentOf(p string) (string, bool) {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i], true
		}
	}
	return "", false
}
