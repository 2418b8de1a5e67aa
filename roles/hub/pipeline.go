package hub

import (
	"sync"

	"github.com/peerlink/peerlink/wire"
)

// applyBatch is how many ops one Apply carries: the most a message may
// (wire.MaxBatch). Its header stays far below the frame limit.
const applyBatch = wire.MaxBatch

// applyWindow is how many Applies of fetches and metadata changes the hub
// keeps in flight to one target. Each Apply ends with the target's sync
// and a reply: with one at a time the link would idle for a round trip
// and a sync per batch, so the number of round trips a start-up waits for
// would grow with its files. With a window, the next batches are already
// at the target while others are made durable. A target's syncs run one
// at a time and, on a busy disk, take as long as fetching a batch or
// longer (2-3 s per syncfs on the shared test machine, where 4 Applies
// fetched in 2.5 s): with 4 in flight, all four waited for their syncs
// together and nothing was fetched meanwhile, so the window holds twice
// that. The target bounds what they cost it (its fetches share one memory
// budget), so the window bounds only what waits in its queue:
// applyWindow × applyBatch ops.
const applyWindow = 8

// parallelOnly reports whether ops are all fetches and metadata changes,
// which a target applies in any order: such batches may overlap.
func parallelOnly(ops []wire.Op) bool {
	for i := range ops {
		if k := ops[i].Kind; k != wire.OpFetch && k != wire.OpMeta {
			return false
		}
	}
	return true
}

// sameClass returns how many ops from ops[0] on, at most batch, are all
// parallelOnly or all not: a batch never mixes both, so the folders a
// start-up makes first go alone in a short Apply, and the fetches after
// them stream, rather than the first 4,096 fetches waiting in an Apply
// that has to run alone for its mkdirs.
func sameClass(ops []wire.Op, batch int) int {
	par := parallelOnly(ops[:1])
	n := 1
	for n < len(ops) && n < batch && parallelOnly(ops[n:n+1]) == par {
		n++
	}
	return n
}

// pipeline sends ops to a target by the batch through apply, up to window
// batches in flight while they are parallelOnly. A batch with ops whose
// order matters (mkdir, rename, delete) waits for every batch before it
// and runs alone. It stops sending at the first error and returns it once
// the batches in flight have ended.
func pipeline(ops []wire.Op, batch, window int, apply func(first int, ops []wire.Op) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	failed := func() error {
		mu.Lock()
		defer mu.Unlock()
		return first
	}
	slots := make(chan struct{}, max(window, 1))
	for done := 0; done < len(ops); {
		n := sameClass(ops[done:], batch)
		chunk, at := ops[done:done+n], done
		done += n
		par := parallelOnly(chunk)
		if !par {
			wg.Wait()
		}
		slots <- struct{}{}
		if failed() != nil {
			<-slots
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			if err := apply(at, chunk); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
		if !par {
			wg.Wait()
		}
	}
	wg.Wait()
	return failed()
}

// foldersFirst returns ops with, between any two ops whose order matters
// to others (deletes and renames), the folders made first, in their order,
// then the fetches and metadata changes, in theirs. A live burst (an unzip,
// a checkout) reports each folder before its files: sent as they came,
// every folder would be an ordered batch of its own, waiting for the
// fetches before it, a round trip per folder; so, one ordered batch, then
// the files stream. A fetch never needs a later folder (its own comes
// before it), and a folder made never needs a fetch; what a delete or a
// rename depends on is on its side of it, as it was.
func foldersFirst(ops []wire.Op) []wire.Op {
	out := make([]wire.Op, 0, len(ops))
	for start := 0; start < len(ops); {
		end := start
		for end < len(ops) && ops[end].Kind != wire.OpDelete && ops[end].Kind != wire.OpRename {
			end++
		}
		for _, op := range ops[start:end] {
			if op.Kind == wire.OpMkdir {
				out = append(out, op)
			}
		}
		for _, op := range ops[start:end] {
			if op.Kind != wire.OpMkdir {
				out = append(out, op)
			}
		}
		if end < len(ops) {
			out = append(out, ops[end])
			end++
		}
		start = end
	}
	return out
}
