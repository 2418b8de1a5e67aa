package hub

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// flights are a run's large transfers in flight, for the status: the fetch
// ops of at least api.TransferMinSize sent to a target and not yet
// reported done. Small files are not tracked at all, so a start-up of
// 100,000 of them costs one size comparison per op; the list is capped at
// api.MaxTransfers (the oldest kept: they are the ones moving).
//
// A target reports the bytes it wrote (wire.Progress) per session, not per
// file: they are credited to its tracked transfers in the order they were
// sent, which is the order the target works in, so Done is exact for one
// large file at a time and approximate for several at once.
type flights struct {
	mu     sync.Mutex
	byHost map[string][]*api.Transfer // in the order sent
	n      int
}

// start tracks the large fetches of ops, sent to host.
func (f *flights) start(host string, ops []wire.Op) {
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range ops {
		op := &ops[i]
		if op.Kind != wire.OpFetch || op.Want.Size < api.TransferMinSize || f.n >= api.MaxTransfers {
			continue
		}
		if f.byHost == nil {
			f.byHost = map[string][]*api.Transfer{}
		}
		f.byHost[host] = append(f.byHost[host], &api.Transfer{Path: op.Path, From: op.From, To: host, Size: op.Want.Size, Started: now})
		f.n++
	}
}

// finish forgets host's transfers of the paths in results.
func (f *flights) finish(host string, results []wire.OpResult) {
	f.mu.Lock()
	defer f.mu.Unlock()
	list := f.byHost[host]
	if len(list) == 0 {
		return
	}
	for _, res := range results {
		if res.Kind != wire.OpFetch {
			continue
		}
		if i := slices.IndexFunc(list, func(t *api.Transfer) bool { return t.Path == res.Path }); i >= 0 {
			list = slices.Delete(list, i, i+1)
			f.n--
		}
	}
	f.set(host, list)
}

// drop forgets host's transfers of ops, once their Apply ended whichever
// way.
func (f *flights) drop(host string, ops []wire.Op) {
	f.mu.Lock()
	defer f.mu.Unlock()
	list := f.byHost[host]
	for i := 0; i < len(ops) && len(list) > 0; i++ {
		if ops[i].Kind != wire.OpFetch || ops[i].Want.Size < api.TransferMinSize {
			continue
		}
		if j := slices.IndexFunc(list, func(t *api.Transfer) bool { return t.Path == ops[i].Path }); j >= 0 {
			list = slices.Delete(list, j, j+1)
			f.n--
		}
	}
	f.set(host, list)
}

func (f *flights) set(host string, list []*api.Transfer) {
	if len(list) == 0 {
		delete(f.byHost, host)
		return
	}
	f.byHost[host] = list
}

// progress credits n bytes written by host to its transfers, oldest first.
func (f *flights) progress(host string, n int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.byHost[host] {
		if n <= 0 {
			return
		}
		add := min(n, t.Size-t.Done)
		t.Done += add
		n -= add
	}
}

// list copies the transfers in flight, oldest first.
func (f *flights) list() []api.Transfer {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		return nil
	}
	out := make([]api.Transfer, 0, f.n)
	for _, l := range f.byHost {
		for _, t := range l {
			out = append(out, *t)
		}
	}
	slices.SortFunc(out, func(a, b api.Transfer) int {
		if c := a.Started.Compare(b.Started); c != 0 {
			return c
		}
		if c := cmp.Compare(a.To, b.To); c != 0 {
			return c
		}
		return cmp.Compare(a.Path, b.Path)
	})
	return out
}

// applyOps is the package's applyOps for the run's own Applies, keeping
// its transfers in flight current.
func (r *run) applyOps(ctx context.Context, c *broker.Client, host string, ops []wire.Op, data []byte, each func([]wire.OpResult) error) error {
	return r.applyOpsSeen(ctx, c, host, ops, data, r.seen.get(host), each)
}

// applyOpsSeen is applyOps with the Seen of ops planned earlier than now
// (a catch-up's, planned in the live loop and sent from its goroutine).
func (r *run) applyOpsSeen(ctx context.Context, c *broker.Client, host string, ops []wire.Op, data []byte, seen uint64, each func([]wire.OpResult) error) error {
	r.flights.start(host, ops)
	defer r.flights.drop(host, ops)
	return applyOps(ctx, c, &r.cfg, host, ops, data, seen, func(results []wire.OpResult) error {
		r.flights.finish(host, results)
		for _, res := range results {
			if res.Kind == wire.OpFetch && res.Error == nil {
				r.h.metrics.Received(r.cfg.Name, host, res.Bytes, res.Wire)
			}
		}
		return each(results)
	})
}
