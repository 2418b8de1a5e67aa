package agent

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/sync/scan"
	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/sync/xfer"
	"github.com/peerlink/peerlink/wire"
)

// warningsPerPart bounds the warnings one ScanPart carries.
const warningsPerPart = 1000

// fetchesInFlight is how many files one Apply transfers at once: enough to
// keep the link busy with small files while large ones stream.
const fetchesInFlight = 16

func (a *Agent) fail(ctx context.Context, c *broker.Client, in broker.Incoming, op, path string, err error) {
	f := &wire.Fail{Error: *wire.ToError(op, a.cfg.Name, path, err)}
	if err := c.Reply(ctx, in, f, nil); err != nil {
		a.log.Debug().Err(err).Msg("reply")
	}
}

// sendOpen tells the hub, in a scan's reply, the files under path open
// for writing here: looked for once the walk is over, so that a writer
// that opened a file during it counts too. The hub must not replace those
// files. It reports whether the reply could be sent.
func (a *Agent) sendOpen(ctx context.Context, c *broker.Client, in broker.Incoming, s *attached, path string) bool {
	open := s.live.writingNow(path, false, true)
	for len(open) > 0 {
		n := min(len(open), wire.MaxBatch)
		if err := c.Reply(ctx, in, &wire.ScanPart{Session: s.name, Open: open[:n]}, nil); err != nil {
			a.log.Debug().Err(err).Msg("scan reply")
			return false
		}
		a.log.Info().Str("session", s.name).Strs("paths", open[:min(n, 10)]).Int("open", n).Msg("scanned files open for writing")
		open = open[n:]
	}
	return true
}

// scan streams the session's entries to the hub in batches.
func (a *Agent) scan(ctx context.Context, c *broker.Client, in broker.Incoming, m *wire.Scan) {
	s, ctx, end, err := a.begin(ctx, m.Session)
	defer end()
	if err != nil {
		a.fail(ctx, c, in, "scan", "", err)
		return
	}
	start := time.Now()
	var journal uint64
	if m.Changed {
		roots, seq, why := a.changedRoots(ctx, s, m)
		if why == "" {
			a.scanRoots(ctx, c, in, s, roots, seq)
			return
		}
		journal = seq
		a.log.Info().Str("session", m.Session).Str("why", why).Msg("catch-up: the whole root is rescanned")
	} else if m.Path == "" {
		// A whole scan sees everything the journal recorded before it
		// starts: the hub clears it up to here once it merged the scan.
		if j, err := a.db.ReadJournal(m.Session); err == nil {
			journal = j.Seq
		}
	}
	cache, err := a.openCache(m.Session)
	if err != nil {
		a.fail(ctx, c, in, "scan", "", err)
		return
	}
	defer cache.Close()
	var reported uint64
	if m.Path == "" {
		// What the loop reported before the walk, the walk sees
		// (scanmark.go).
		reported = s.live.markScan(ctx, m.Supersede)
	}
	var dirs []dirRec // a whole scan's folders: the base of the live rescans
	fault := a.scanFault(m.Path)
	emit := func(batch []wire.Entry) error {
		if m.Path == "" {
			dirs = appendDirs(dirs, batch)
		}
		if err := fault(len(batch)); err != nil {
			return err
		}
		return c.Reply(ctx, in, &wire.ScanPart{Session: m.Session, Entries: batch}, nil)
	}
	stats, warnings, err := scan.Run(ctx, s.tree, scan.Options{Filter: s.filter, Cache: cache, Under: m.Path}, emit)
	if err == nil && m.Path == "" {
		err = cache.Finish() // only a whole scan knows which records are stale
		if err == nil {
			s.live.knowDirs(dirs)
		}
	}
	if err != nil {
		a.fail(ctx, c, in, "scan", "", err)
		return
	}
	for i := range warnings {
		warnings[i].Host = a.cfg.Name
	}
	if !a.sendOpen(ctx, c, in, s, m.Path) {
		return
	}
	// Every skipped path goes to the hub, which must not mistake it for a
	// deletion; in parts, so that no frame outgrows its limit.
	for len(warnings) > warningsPerPart {
		part := &wire.ScanPart{Session: m.Session, Warnings: warnings[:warningsPerPart]}
		if err := c.Reply(ctx, in, part, nil); err != nil {
			a.log.Debug().Err(err).Msg("scan reply")
			return
		}
		warnings = warnings[warningsPerPart:]
	}
	a.log.Info().Str("session", m.Session).Int64("files", stats.Files).Int64("dirs", stats.Dirs).
		Int64("hashed", stats.Hashed).Str("took", (time.Since(start)).Round(time.Millisecond).String()).Msg("scan done")
	done := &wire.ScanPart{Session: m.Session, Done: true, Stats: stats, Warnings: warnings, Journal: journal, Reported: reported}
	if err := c.Reply(ctx, in, done, nil); err != nil {
		a.log.Debug().Err(err).Msg("scan reply")
	}
}

// read answers a read of a file in an attached session, by another
// agent or the hub, as mayRead allows.
func (a *Agent) read(ctx context.Context, c *broker.Client, in broker.Incoming, m *wire.Read) {
	s, err := a.session(m.Session)
	if err == nil {
		if err = a.mayRead(s, in.From, m.Path); err != nil {
			a.log.Warn().Str("from", in.From).Str("session", m.Session).Str("path", m.Path).Err(err).Msg("read refused")
		}
	}
	if err != nil {
		a.fail(ctx, c, in, "read", m.Path, err)
		return
	}
	chunk, err := xfer.Serve(s.tree, a.cfg.Name, m)
	if err != nil {
		a.fail(ctx, c, in, "read", m.Path, err)
		return
	}
	defer chunk.Release()
	a.metrics.Served(m.Session)
	if err := c.Reply(ctx, in, &chunk.Reply, chunk.Data); err != nil {
		a.log.Debug().Err(err).Msg("read reply")
	}
}

// source lets xfer pull chunks from other agents through the broker.
// source is a fetch's link to the source agent, through the broker.
// onWire, if set, counts the bytes of content that came over the link for
// the fetch: after delta and compression, what the link really carried.
type source struct {
	c      *broker.Client
	onWire *atomic.Int64
}

func (s source) count(data []byte) {
	if s.onWire != nil {
		s.onWire.Add(int64(len(data)))
	}
}

func (s source) Read(ctx context.Context, from string, r *wire.Read) (wire.ReadData, []byte, error) {
	if rd, data, ok := readInline(ctx, r, s.onWire); ok {
		return rd, data, nil
	}
	in, err := s.c.Request(ctx, from, r, nil)
	if err != nil {
		return wire.ReadData{}, nil, err
	}
	rd, ok := in.Msg.(*wire.ReadData)
	if !ok {
		return wire.ReadData{}, nil, fmt.Errorf("read %s from %s: unexpected reply %s", r.Path, from, in.Type)
	}
	s.count(in.Data)
	return *rd, in.Data, nil
}

// apply runs an Apply's ops in order, several fetches at once, streaming
// results back in batches and progress to the hub as bytes land.
func (a *Agent) apply(ctx context.Context, c *broker.Client, in broker.Incoming, m *wire.Apply) {
	s, ctx, end, err := a.begin(ctx, m.Session)
	defer end()
	if err != nil {
		a.fail(ctx, c, in, "apply", "", err)
		return
	}
	out := newResults(ctx, c, in, s, a)
	defer out.close()
	ctx = a.withInline(ctx, m, in.Data)
	ops := m.Ops
	// What it took, for the debug log: how many requests went to sources
	// (a ReadMany for each batch of small files, a Fetch for each other
	// file), which fetchAll keeps in flight together.
	start := time.Now()
	var requests atomic.Int64
	defer func() {
		a.log.Debug().Str("session", s.name).Int("ops", len(ops)).Int64("requests", requests.Load()).
			Dur("took", time.Since(start)).Msg("apply fetched")
	}()
	for i := 0; i < len(ops) && ctx.Err() == nil; {
		if !parallel(ops[i].Kind) {
			out.add(a.applyOne(ctx, c, s, &ops[i], applySeen(m), out.progress))
			i++
			continue
		}
		j := i
		for j < len(ops) && parallel(ops[j].Kind) {
			j++
		}
		fetchAll(ops[i:j], func(batch []wire.Op) {
			if batch[0].Kind == wire.OpFetch {
				requests.Add(1)
			}
			if len(batch) == 1 {
				out.add(a.applyOne(ctx, c, s, &batch[0], applySeen(m), out.progress))
			} else {
				a.applyMany(ctx, c, s, batch, applySeen(m), out)
			}
		})
		i = j
		if i < len(ops) {
			// The ops after this run (renames, deletes) must find the
			// fetched files in place; their outcomes wait in the Staged
			// results for the next flush.
			if _, err := s.tree.Sync(); err != nil {
				a.log.Warn().Str("session", s.name).Err(err).Msg("sync")
			}
		}
	}
}

func parallel(k wire.OpKind) bool { return k == wire.OpFetch || k == wire.OpMeta }

// results batches OpResults into Applied replies and byte counts into
// Progress messages, so the hub hears of 10,000 small files in a few dozen
// frames rather than 10,000. Nothing is reported before it is durable: each
// flush first Syncs the tree, which puts the staged fetches in place with one
// syncfs and fsyncs the folders that changed, then reports each staged file
// as its Staged outcome says.
type results struct {
	ctx     context.Context
	c       *broker.Client
	in      broker.Incoming
	session string
	tree    *tree.Tree
	a       *Agent

	mu      sync.Mutex
	pending []wire.OpResult
	staged  []*tree.Staged // beside pending; nil for ops not staged
	bytes   atomic.Int64
	kick    chan struct{}         // asks the loop for an early flush
	flushMu sync.Mutex            // one flush at a time, so Done is the last reply
	wants   map[string]wire.Entry // the Apply's wanted entries by path, under flushMu
	stop    chan struct{}
	done    chan struct{}
}

// flushAt is how many results make the loop flush before its tick
// (flushEvery): the files of one syncfs. A syncfs costs a flush of the
// disk's cache (and a journal commit where there is one) whatever it writes,
// tens of milliseconds even for a few files: measured with make bench,
// 100,000 small files spent 11 s of 18 s in 83 syncs of 512 files, 2.7 s in
// 25 syncs of 4,096.
const flushAt = wire.MaxBatch

// flushEvery is how often the loop flushes what is pending: the delay with
// which the hub hears of files that landed.
const flushEvery = time.Second

// appliedBatch bounds the results of one Applied reply (wire.MaxBatch).
const appliedBatch = 1024

func newResults(ctx context.Context, c *broker.Client, in broker.Incoming, s *attached, a *Agent) *results {
	r := &results{ctx: ctx, c: c, in: in, session: s.name, tree: s.tree, a: a,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go r.loop()
	return r
}

func (r *results) progress(n int64) { r.bytes.Add(n) }

// add queues an op's result; staged, if not nil, decides at the next Sync
// whether it holds. The flush runs on the loop's goroutine, so fetches go
// on while a Sync writes the last batch out.
func (r *results) add(res wire.OpResult, staged *tree.Staged) {
	r.mu.Lock()
	r.pending = append(r.pending, res)
	r.staged = append(r.staged, staged)
	full := len(r.pending) >= flushAt
	r.mu.Unlock()
	if full {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

func (r *results) loop() {
	defer close(r.done)
	// Progress goes to the hub four times a second; results, which cost a
	// Sync, every flushEvery or flushAt results.
	t := time.NewTicker(progressEvery)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case now := <-t.C:
			if now.Sub(last) < flushEvery {
				r.sendProgress()
				continue
			}
			last = now
			r.flush(false)
		case <-r.kick:
			last = time.Now()
			r.flush(false)
		case <-r.stop:
			return
		}
	}
}

// omitWanted leaves out of batch the entries that are their op's Want,
// which the hub knows (wire.OpResult): over a WAN that is most of what a
// target sends back during an initial sync.
func (r *results) omitWanted(batch []wire.OpResult) {
	m, ok := r.in.Msg.(*wire.Apply)
	if !ok {
		return
	}
	if r.wants == nil {
		r.wants = make(map[string]wire.Entry, len(m.Ops))
		for i := range m.Ops {
			if op := &m.Ops[i]; op.Kind != wire.OpDelete {
				r.wants[op.Path] = op.Want
			}
		}
	}
	for i := range batch {
		if res := &batch[i]; res.Error == nil && res.Kind != wire.OpDelete {
			if w, ok := r.wants[res.Path]; ok && w == res.Entry {
				res.Entry = wire.Entry{}
			}
		}
	}
}

// progressEvery is how often the hub hears how many bytes landed.
const progressEvery = 250 * time.Millisecond

func (r *results) sendProgress() {
	if n := r.bytes.Swap(0); n > 0 {
		if err := r.c.Send(r.ctx, wire.HubName, &wire.Progress{Session: r.session, Bytes: n}, nil); err != nil {
			r.a.log.Debug().Err(err).Msg("progress")
		}
	}
}

func (r *results) flush(final bool) {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()
	r.sendProgress()
	r.mu.Lock()
	batch, staged := r.pending, r.staged
	r.pending, r.staged = nil, nil
	r.mu.Unlock()
	if len(batch) == 0 && !final {
		return
	}
	if len(batch) > 0 {
		// Every op of batch was applied, every fetch of it staged, before
		// this Sync began: when it returns, each is durable or failed.
		start := time.Now()
		if _, err := r.tree.Sync(); err != nil {
			r.a.log.Warn().Str("session", r.session).Err(err).Msg("sync")
		}
		r.a.log.Debug().Str("session", r.session).Int("results", len(batch)).Bool("final", final).
			Dur("sync", time.Since(start)).Msg("applied batch synced")
	}
	for i, st := range staged {
		if st == nil {
			continue
		}
		if err := st.Err(); err != nil {
			res := &batch[i]
			res.Entry, res.Bytes = wire.Entry{}, 0
			res.Error = wire.ToError(res.Kind.String(), r.a.cfg.Name, res.Path, err)
			r.a.log.Warn().Str("session", r.session).Str("path", res.Path).Str("op", res.Kind.String()).Err(err).Msg("apply failed")
		}
	}
	r.a.recordApplied(r.session, batch, staged)
	r.omitWanted(batch)
	for {
		n := min(len(batch), appliedBatch)
		last := n == len(batch)
		if err := r.c.Reply(r.ctx, r.in, &wire.Applied{Session: r.session, Results: batch[:n], Done: final && last}, nil); err != nil {
			r.a.log.Debug().Err(err).Msg("applied reply")
		}
		batch = batch[n:]
		if last {
			return
		}
	}
}

// close sends what is left with Done set, after the ticker has stopped so
// that nothing is sent after Done.
func (r *results) close() {
	close(r.stop)
	<-r.done
	r.flush(true)
}
