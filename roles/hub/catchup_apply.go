package hub

import (
	"sync"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/wire"
)

// applyRound applies a catch-up round's ops on every host that has some,
// in a goroutine beside the live loop, and hands the failures back to it.
// Each op's result is recorded against the index as it is now
// (store.CatchUpApplied): a path the live hosts changed meanwhile is not
// taken for caught up.
func (r *run) applyRound(lc *liveCtx, host string, cu *catchUp, plan *conflict.Plan) {
	participants := r.liveHosts()
	participants = append(participants, host)
	lc.wg.Go(func() {
		var mu sync.Mutex
		var failures []opFailure
		var wg sync.WaitGroup
		for target, ops := range plan.Ops {
			if len(ops) == 0 {
				continue
			}
			wg.Go(func() {
				fs := r.applyCatchUp(lc, cu, target, ops, plan, participants)
				mu.Lock()
				failures = append(failures, fs...)
				mu.Unlock()
			})
		}
		wg.Wait()
		res := catchResult{host: host, cu: cu, plan: plan, failures: failures}
		if err := cu.ctx.Err(); err != nil {
			res.err = err
		}
		r.handBack(lc, res)
	})
}

// applyCatchUp applies ops on target in batches and records what landed.
func (r *run) applyCatchUp(lc *liveCtx, cu *catchUp, target string, ops []wire.Op, plan *conflict.Plan, participants []string) []opFailure {
	moved := movedBelow(*plan, ops)
	var failures []opFailure
	for done := 0; done < len(ops); {
		n := min(len(ops)-done, wire.MaxBatch)
		chunk := ops[done : done+n]
		answered := make([]bool, n)
		byPath := map[string][]int{}
		for i, op := range chunk {
			byPath[op.Path] = append(byPath[op.Path], i)
		}
		err := r.applyOpsSeen(cu.ctx, lc.c, target, chunk, nil, cu.seen[target], func(results []wire.OpResult) error {
			var landed []store.CaughtUp
			for _, res := range results {
				q := byPath[res.Path]
				if len(q) == 0 {
					continue
				}
				i := q[0]
				byPath[res.Path] = q[1:]
				answered[i] = true
				if res.Error != nil {
					e := *res.Error
					e.Host = target
					failures = append(failures, opFailure{target, chunk[i], e, done + i})
					continue
				}
				landed = append(landed, landedOf(chunk[i], plan, moved)...)
			}
			return r.h.db.CatchUpApplied(r.cfg.Name, target, landed, participants)
		})
		if err != nil {
			e := *wire.ToError("apply", target, "", err)
			for i, ok := range answered {
				if !ok {
					failures = append(failures, opFailure{target, chunk[i], e, done + i})
				}
			}
			if e.Kind != wire.KindUnreachable {
				r.addError(e)
			}
			return failures
		}
		done += n
	}
	return failures
}

// landedOf returns what a successful op left at its path (and, for a
// folder rename, below it).
func landedOf(op wire.Op, plan *conflict.Plan, moved map[string][]string) []store.CaughtUp {
	if op.Kind == wire.OpDelete {
		return []store.CaughtUp{{Path: op.Path}}
	}
	rec, ok := plan.Index[op.Path]
	if !ok {
		return nil
	}
	e := rec.Entry
	out := []store.CaughtUp{{Path: op.Path, Entry: &e}}
	if op.Kind == wire.OpRename {
		for _, p := range moved[op.Path] {
			if rec, ok := plan.Index[p]; ok {
				e := rec.Entry
				out = append(out, store.CaughtUp{Path: p, Entry: &e})
			}
		}
	}
	return out
}
