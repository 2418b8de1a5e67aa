package agent

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/sync/xfer"
	"github.com/peerlink/peerlink/wire"
)

// readMany answers a ReadMany, as mayRead allows: several small files of
// an attached session in one reply.
func (a *Agent) readMany(ctx context.Context, c *broker.Client, in broker.Incoming, m *wire.ReadMany) {
	s, err := a.session(m.Session)
	if err == nil {
		paths := make([]string, len(m.Files))
		for i, f := range m.Files {
			paths[i] = f.Path
		}
		if err = a.mayRead(s, in.From, paths...); err != nil {
			a.log.Warn().Str("from", in.From).Str("session", m.Session).Err(err).Msg("read refused")
		}
	}
	if err != nil {
		a.fail(ctx, c, in, "read", "", err)
		return
	}
	b, err := xfer.ServeBatch(s.tree, a.cfg.Name, m)
	if err != nil {
		a.fail(ctx, c, in, "read", "", err)
		return
	}
	defer b.Release()
	a.metrics.Served(m.Session)
	if err := c.Reply(ctx, in, &b.Reply, b.Data); err != nil {
		a.log.Debug().Err(err).Msg("read many reply")
	}
}

func (s source) ReadMany(ctx context.Context, from string, r *wire.ReadMany) (wire.ReadManyData, []byte, error) {
	if rd, data, ok := readManyInline(ctx, r, s.onWire); ok {
		return rd, data, nil
	}
	in, err := s.c.Request(ctx, from, r, nil)
	if err != nil {
		return wire.ReadManyData{}, nil, err
	}
	rd, ok := in.Msg.(*wire.ReadManyData)
	if !ok {
		return wire.ReadManyData{}, nil, fmt.Errorf("read many from %s: unexpected reply %s", from, in.Type)
	}
	s.count(in.Data)
	return *rd, in.Data, nil
}

// batchable reports whether op is a fetch that travels with others in one
// ReadMany: a small file, or a whole file of up to a chunk, which a Read
// would fetch in one piece anyway. The batch is compressed as one piece,
// which keeps the context of the files beside it: 200 MiB of Go's sources
// took 40.3 MB where batches kept to files of 64 KiB or less, the others
// compressed one by one, took 42.1 MB (zstd's better level, the files in
// path order). A fetch by delta is not: it reads the old copy's spans, one
// file at a time.
func batchable(op *wire.Op) bool {
	if op.Kind != wire.OpFetch || op.Want.Size > wire.ChunkSize {
		return false
	}
	return op.Want.Size <= xfer.SmallFile || !op.Delta
}

// batchFiles bounds the files of one batch: small enough that an Apply of
// small files makes many batches, to keep fetchesInFlight of them going, so
// that the source reading some, the link carrying others and this agent
// writing others overlap. Batches of wire.MaxReadMany files, eight round
// trips for an Apply instead of 64, took twice as long to start a session
// of 8,000 files of 1 KiB over a link of 40 ms: each batch was read whole,
// then sent, then written, and all eight at once. The round trips are
// hidden by the batches in flight (fetchAll), not by fewer batches. At 256
// an Apply of small files is still 16 batches or more, and a batch of
// source files compresses with more of its neighbours: 200 MiB of Go's
// sources crossed a 50 Mbit/s link in 48.4 MB (46.2 MiB) where batches of
// 64 took 48.9 MB, against rsync -az's 48.7 MB; 10,000 files of 10 KiB
// (1 MiB per batch at most either way) took the same time (bench's
// wan-corpus and wan-small rows, same machine and hour).
const batchFiles = 256

// nextBatch returns how many ops from ops[0] on (ops[0] batchable) fetch
// together: same source, at most batchFiles files and wire.ChunkSize bytes,
// all with their content inline or none (a batch asks the source only if
// some file of it is not here).
func nextBatch(ops []wire.Op) int {
	var bytes int64
	n := 0
	inline := ops[0].Inline != nil
	for n < len(ops) && n < batchFiles && batchable(&ops[n]) && ops[n].From == ops[0].From && (ops[n].Inline != nil) == inline {
		if bytes+ops[n].Want.Size > wire.ChunkSize {
			break
		}
		bytes += ops[n].Want.Size
		n++
	}
	return n
}

// fetchAll runs ops, fetches and metadata changes that may run in any
// order, through apply: small files by the batch (nextBatch), one round
// trip for many, the rest one by one, each streamed in chunks; up to
// fetchesInFlight of them at once, so that the round trips overlap and an
// Apply waits for about one of them however many files it holds (what the
// batches hold in memory is bounded by xfer's budget, not by their number).
func fetchAll(ops []wire.Op, apply func(batch []wire.Op)) {
	var wg sync.WaitGroup
	// Batches of small files hold no file open between their round trip
	// and their staging, and their memory is xfer's budget's: they may be
	// more in flight than the files fetched one by one.
	singles := make(chan struct{}, fetchesInFlight)
	batches := make(chan struct{}, batchesInFlight)
	for k := 0; k < len(ops); {
		n, sem := 1, singles
		if batchable(&ops[k]) {
			n = nextBatch(ops[k:])
		}
		if n > 1 {
			sem = batches
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(batch []wire.Op) {
			defer func() { <-sem; wg.Done() }()
			apply(batch)
		}(ops[k : k+n])
		k += n
	}
	wg.Wait()
}

// batchesInFlight is how many batches of small files one Apply keeps in
// flight: an Apply of 4,096 small files is 16 batches or more, all on their way at
// once as far as xfer's budget lets them (one unit each, across every
// Apply), so that an Apply that runs alone waits for one round trip or
// two rather than four.
const batchesInFlight = 64

// applyMany fetches a batch of small files (see nextBatch), which the hub
// planned when it had handled this host's reports up to seen, in one round
// trip and adds each one's result. Each op gets the checks applyOne gives
// a fetch: the copy it replaces must still be what the hub planned from,
// and is kept first when target protection is on.
func (a *Agent) applyMany(ctx context.Context, c *broker.Client, s *attached, ops []wire.Op, seen uint64, out *results) {
	todo := make([]*wire.Op, 0, len(ops))
	for i := range ops {
		op := &ops[i]
		if res, settled := a.beforeRename(ctx, s, op, seen); settled {
			out.add(res, nil) // renamed.go
			continue
		}
		err := a.checkHave(s, op.Path, op.Have)
		if err != nil && a.already(s, op, err) {
			out.add(wire.OpResult{Kind: op.Kind, Path: op.Path, Entry: op.Want}, nil)
			continue
		}
		if err == nil {
			// As applyOne's fetch: not made again where a user here
			// removed it lately (removed.go).
			err = s.live.refuseRemoved(op.Path, op.Have)
		}
		if err == nil && op.Have != nil {
			if err = s.live.refuseOpen(op.Path, op.Have); err == nil {
				err = s.protect.keep(op.Path)
			}
		}
		if err != nil {
			out.add(a.failed(s, op, err), nil)
			continue
		}
		todo = append(todo, op)
	}
	if len(todo) == 0 {
		return
	}
	// As applyOne's fetch does: the files' arrival is the agent's own
	// change. Without it, the live loop took each file put in place
	// before its flush recorded it in the scan cache (a sync of a few
	// seconds on a busy disk, a settle of 50 ms) for a user's change: it
	// read it again to hash it and reported it to the hub. It is recorded
	// when the batch is asked for, not before it waits for its turn in
	// xfer's budget: behind the other batches of a large start, on a slow
	// link, an expectation recorded earlier ran out (expectFor) before its
	// file landed. 200 MiB of Go's sources over 50 Mbit/s, in batches of up
	// to a chunk, had site-b report 6.5 MB of its own arrivals back to
	// the hub, content inline.
	expect := func() {
		for _, op := range todo {
			s.live.expectChange(op.Path, expectation{entry: op.Want, mode: true})
		}
	}
	// The batch came in one reply: its bytes on the wire go on its first
	// file that lands, so that they add up per host and session.
	var onWire atomic.Int64
	src := expecting{source: source{c, &onWire}, expect: expect}
	for i, f := range xfer.FetchMany(ctx, src, s.tree, s.name, todo, out.progress) {
		op := todo[i]
		if f.Err != nil {
			out.add(a.failed(s, op, f.Err), nil)
			continue
		}
		res := wire.OpResult{Kind: op.Kind, Path: op.Path, Entry: f.Entry, Bytes: op.Want.Size, Wire: onWire.Swap(0)}
		a.metrics.Received(s.name, res.Bytes, res.Wire)
		out.add(res, f.Staged)
	}
}

// failed is the result of an op that failed with err, logged.
func (a *Agent) failed(s *attached, op *wire.Op, err error) wire.OpResult {
	a.log.Warn().Str("session", s.name).Str("path", op.Path).Str("op", op.Kind.String()).Err(err).Msg("apply failed")
	return wire.OpResult{Kind: op.Kind, Path: op.Path, Error: wire.ToError(op.Kind.String(), a.cfg.Name, op.Path, err)}
}

// expecting is the source of one batch: expect runs just before the batch
// is asked for, once its turn in xfer's budget came.
type expecting struct {
	source
	expect func()
}

func (e expecting) ReadMany(ctx context.Context, from string, r *wire.ReadMany) (wire.ReadManyData, []byte, error) {
	e.expect()
	return e.source.ReadMany(ctx, from, r)
}
