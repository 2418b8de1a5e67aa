package hub

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/wire"
)

// opFailure is an op that failed on its target.
type opFailure struct {
	host string
	op   wire.Op
	err  wire.Error
	seq  int // the op's place in the host's list: results may come in another order
}

// applyChanges sends every target its ops. It returns, by path, the
// targets on which the path's ops succeeded, and the ops that failed.
func (r *run) applyChanges(ctx context.Context, c *broker.Client, ops map[string][]wire.Op) (ok map[string]map[string]bool, failures []opFailure) {
	var mu sync.Mutex
	ok = map[string]map[string]bool{} // path -> host -> applied
	g, gctx := errgroup.WithContext(ctx)
	for t, list := range ops {
		if !r.h.connected(t) {
			// Under mu: the goroutines of the targets before write too.
			mu.Lock()
			for i, op := range list {
				failures = append(failures, opFailure{t, op, wire.Error{Kind: wire.KindUnreachable, Host: t, Path: op.Path, Msg: "not connected"}, i})
			}
			mu.Unlock()
			continue
		}
		g.Go(func() error {
			fs, applied := r.applyTo(gctx, c, t, list)
			mu.Lock()
			defer mu.Unlock()
			failures = append(failures, fs...)
			now := time.Now()
			for _, res := range applied {
				if ok[res.Path] == nil {
					ok[res.Path] = map[string]bool{}
				}
				ok[res.Path][t] = true
				if res.Kind != wire.OpDelete {
					r.recent.remember(t, res.Entry, now)
				}
			}
			return nil
		})
	}
	g.Wait()
	return ok, failures
}

// applyTo applies list on t in batches, up to applyWindow of them in
// flight (see pipeline), and returns the ops that failed and the results
// of those that succeeded. A path that also failed in list is not among
// the latter.
func (r *run) applyTo(ctx context.Context, c *broker.Client, t string, list []wire.Op) ([]opFailure, []wire.OpResult) {
	var (
		mu       sync.Mutex // over the three below: batches answer at once
		failures []opFailure
		applied  []wire.OpResult
		bad      = map[string]bool{}
	)
	list = foldersFirst(list)
	err := pipeline(list, wire.MaxBatch, applyWindow, func(done int, chunk []wire.Op) error {
		// Results may come in another order than the ops: each is matched
		// to the first op of its path not answered yet.
		waiting := map[string][]int{}
		for i, op := range chunk {
			waiting[op.Path] = append(waiting[op.Path], i)
		}
		answer := func(path string) (wire.Op, int) {
			q := waiting[path]
			if len(q) == 0 {
				return wire.Op{Path: path}, done + len(chunk)
			}
			waiting[path] = q[1:]
			return chunk[q[0]], done + q[0]
		}
		// The content that came with the changes goes with their fetches.
		chunk, data := r.inline.attach(chunk)
		err := r.applyOps(ctx, c, t, chunk, data, func(results []wire.OpResult) error {
			mu.Lock()
			defer mu.Unlock()
			for _, res := range results {
				op, seq := answer(res.Path)
				if res.Error != nil {
					e := *res.Error
					e.Host = t
					failures = append(failures, opFailure{t, op, e, seq})
					bad[res.Path] = true
					continue
				}
				applied = append(applied, res)
			}
			return nil
		})
		if err != nil {
			// The ops not answered are taken as failed.
			e := *wire.ToError("apply", t, "", err)
			mu.Lock()
			for _, q := range waiting {
				for _, i := range q {
					failures = append(failures, opFailure{t, chunk[i], e, done + i})
					bad[chunk[i].Path] = true
				}
			}
			mu.Unlock()
		}
		return err
	})
	if err != nil {
		r.addError(*wire.ToError("apply", t, "", err))
	}
	return failures, slices.DeleteFunc(applied, func(res wire.OpResult) bool { return bad[res.Path] })
}

// lagBehind notes the failed ops' hosts as lagging on their paths, and the
// hosts that caught up; it returns the hosts on which some op failed.
func (r *run) lagBehind(ok map[string]map[string]bool, failures []opFailure) map[string]bool {
	for p, hosts := range ok {
		for h := range hosts {
			r.caughtUp(p, h)
		}
	}
	failed := map[string]bool{}
	// The first failure on a path, in the order of the ops, is what the
	// host kept; those after it failed because of it.
	slices.SortStableFunc(failures, func(a, b opFailure) int {
		if c := strings.Compare(a.host, b.host); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	first := map[[2]string]bool{}
	for _, f := range failures {
		failed[f.host] = true
		key := [2]string{f.op.Path, f.host}
		if first[key] {
			continue
		}
		first[key] = true
		r.fallBehind(f.host, f.op, f.err)
		// A copy that changed under the op is for the repair to judge
		// (the source saving again, or a user on the target); unreachable
		// hosts are the supervisor's.
		if f.err.Kind != wire.KindChanged && f.err.Kind != wire.KindUnreachable {
			r.addError(f.err)
		}
	}
	return failed
}
