package hub

import (
	"context"
	"fmt"
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

// transfer sends every host its ops, all hosts at once, and records each
// completed op in the index.
func (r *run) transfer(ctx context.Context, c *broker.Client, plan conflict.Plan) error {
	r.mu.Lock()
	r.startFailed = nil
	r.mu.Unlock()
	g, ctx := errgroup.WithContext(ctx)
	var undelMu sync.Mutex
	undeleted := map[string]bool{} // paths whose deletion failed on some host
	for host, ops := range plan.Ops {
		if len(ops) == 0 {
			continue
		}
		g.Go(func() error {
			r.setHost(host, "applying", nil)
			moved := movedBelow(plan, ops)
			apply := func(batch []wire.Op) error {
				return r.applyOps(ctx, c, host, batch, nil, func(results []wire.OpResult) error {
					undelMu.Lock()
					for _, res := range results {
						if res.Error != nil && res.Kind == wire.OpDelete {
							undeleted[res.Path] = true
						}
					}
					undelMu.Unlock()
					r.openRefusedIn(host, batch, results, plan)
					r.leftBehind(host, batch, results)
					return r.applied(host, results, moved)
				})
			}
			// Batches of fetches stream: up to applyWindow of them in
			// flight, so the next ones are on their way while one is made
			// durable (see pipeline).
			start := time.Now()
			if err := pipeline(ops, applyBatch, applyWindow, func(_ int, batch []wire.Op) error { return apply(batch) }); err != nil {
				r.setHost(host, "failed", err)
				return err
			}
			r.log.Debug().Str("host", host).Int("ops", len(ops)).Int("applies", (len(ops)+applyBatch-1)/applyBatch).
				Int("window", applyWindow).Dur("took", time.Since(start)).Msg("transfer to host done")
			return nil
		})
	}
	err := g.Wait()
	// Progress reports are live but approximate (a failed file's bytes were
	// counted as they landed); the total of confirmed transfers is exact.
	r.update(func(st *api.SessionStatus) { st.Bytes.Done = r.confirmed })
	for _, hr := range r.cfg.Hosts {
		if err == nil {
			r.setHost(hr.Host, "synced", nil)
		}
	}
	if err != nil {
		return err
	}
	return r.forgetDeleted(plan, undeleted)
}

// deletedPaths returns the paths some host's ops delete.
func deletedPaths(ops map[string][]wire.Op) map[string]bool {
	out := map[string]bool{}
	for _, hostOps := range ops {
		for i := range hostOps {
			if hostOps[i].Kind == wire.OpDelete {
				out[hostOps[i].Path] = true
			}
		}
	}
	return out
}

// forgetDeleted drops the records of what the plan deleted, and of
// everything below it, once every host's deletion is done. Until then
// (merge keeps them) a record says the path was synchronised: a deletion
// refused on some host (its copy changed since the scan, or target
// protection could not keep it) leaves the record as it was, so the next
// start sees the path deleted where it is gone and unchanged where it
// stayed, and deletes it again instead of bringing it back as new.
func (r *run) forgetDeleted(plan conflict.Plan, undeleted map[string]bool) error {
	var forget []string
	for d := range deletedPaths(plan.Ops) {
		if conflict.UnderAny(d, undeleted) {
			continue
		}
		err := r.h.db.ForEachIndex(r.cfg.Name, d, func(rec conflict.Record) error {
			p := rec.Entry.Path
			if p != d && !strings.HasPrefix(p, d+"/") {
				return nil
			}
			if _, ok := plan.Lookup(p); !ok && !conflict.UnderAny(p, undeleted) {
				forget = append(forget, p)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return r.h.db.DeleteIndex(r.cfg.Name, forget)
}

// movedBelow returns, for each folder a host renames, the indexed paths
// below its new place that the host's other ops do not touch: the rename
// alone brings those to their indexed state.
func movedBelow(plan conflict.Plan, ops []wire.Op) map[string][]string {
	var renamed []string
	touched := make(map[string]bool, len(ops))
	for i := range ops {
		touched[ops[i].Path] = true
		if ops[i].Kind == wire.OpRename {
			renamed = append(renamed, ops[i].Path)
		}
	}
	if len(renamed) == 0 {
		return nil
	}
	moved := make(map[string][]string, len(renamed))
	for rec := range plan.Records() {
		p := rec.Entry.Path
		if touched[p] {
			continue
		}
		for _, dir := range renamed {
			if strings.HasPrefix(p, dir+"/") {
				moved[dir] = append(moved[dir], p)
			}
		}
	}
	return moved
}

// applyOps has host apply ops in order and calls each with every batch of
// results as they arrive; data is the content inline in ops (wire.Inline).
func applyOps(ctx context.Context, c *broker.Client, cfg *api.SessionConfig, host string, ops []wire.Op, data []byte, seen uint64, each func([]wire.OpResult) error) error {
	markDelta(ops, cfg)
	s, err := c.Call(ctx, host, &wire.Apply{Session: cfg.Name, Ops: ops, Seen: seen, Numbered: true}, data)
	if err != nil {
		return wire.ToError("apply", host, "", err)
	}
	defer s.Close()
	for {
		in, err := s.Recv(ctx)
		if err != nil {
			return wire.ToError("apply", host, "", err)
		}
		m, ok := in.Msg.(*wire.Applied)
		if !ok {
			return fmt.Errorf("apply on %s: unexpected reply %s", host, in.Type)
		}
		fillWanted(m.Results, ops)
		if err := each(m.Results); err != nil {
			return err
		}
		if m.Done {
			return nil
		}
	}
}

// fillWanted puts back in results the entries a target left out because
// they are what their op wanted (wire.OpResult.Entry). A path that several
// ops of one Apply touch takes the Want of its last op but a delete, the
// state the target ends in.
func fillWanted(results []wire.OpResult, ops []wire.Op) {
	var wants map[string]wire.Entry
	for i := range results {
		res := &results[i]
		if res.Error != nil || res.Kind == wire.OpDelete || res.Entry != (wire.Entry{}) {
			continue
		}
		if wants == nil {
			wants = make(map[string]wire.Entry, len(ops))
			for k := range ops {
				if ops[k].Kind != wire.OpDelete {
					wants[ops[k].Path] = ops[k].Want
				}
			}
		}
		res.Entry = wants[res.Path]
	}
}

// applied records one batch of results: successful paths join the index
// for host, failures go to the status.
func (r *run) applied(host string, results []wire.OpResult, moved map[string][]string) error {
	var ok []store.HostPath
	var files, bytes int64
	for _, res := range results {
		if res.Error != nil {
			e := *res.Error
			e.Host = host
			if e.Kind != wire.KindOpen { // quarantined (openRefusedIn)
				r.addError(e)
			}
			if res.Kind == wire.OpFetch {
				files++
			}
			continue
		}
		if res.Kind == wire.OpFetch {
			files++
			bytes += res.Bytes
		}
		if res.Kind != wire.OpDelete {
			ok = append(ok, store.HostPath{Host: host, Path: res.Path})
		}
		if res.Kind == wire.OpRename {
			for _, p := range moved[res.Path] {
				ok = append(ok, store.HostPath{Host: host, Path: p})
			}
		}
	}
	r.update(func(st *api.SessionStatus) { st.Files.Done += files })
	r.mu.Lock()
	r.confirmed += bytes
	r.mu.Unlock()
	_, err := r.h.db.AddIndexHosts(r.cfg.Name, ok)
	return err
}
