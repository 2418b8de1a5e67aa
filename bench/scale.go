//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/peerlink/peerlink/testkit/synthagent"
	"github.com/peerlink/peerlink/wire"
)

// The scale scenario (issue 13, point 5): a real hub process and three
// synthetic agents in the bench's process (testkit/synthagent), whose
// identical scans of N generated paths are generated in memory, so that the
// merge plans no transfer and the run measures the hub alone. For each N:
//
//   - the first start: `session start --wait` over an empty index; the
//     merge is timed from the last scan's Done part sent to the hub's
//     JournalClear, which the hub sends once the merged index is stored
//     and the session runs;
//   - a live lock: site-a reports write-opens (wire.Opened) one after
//     another; each sample is the time from the Opened sent until both
//     site-b and site-c received their Lock; the close releases them;
//   - a restart: `session stop`, `session start --wait`: the same merge,
//     against the stored index of N paths this time;
//   - the hub's peak RSS (VmHWM) before the session starts, after the
//     first start, and at exit (ru_maxrss).

// scaleSpec is the scale scenario's flags.
type scaleSpec struct {
	paths   []int
	samples int
	maxRSS  int64 // the hub is stopped beyond this RSS
}

// Goals of issue 13, point 5.
const (
	goalScaleMerge   = 10 * time.Second // 1M paths × 3 hosts
	goalScaleRSS     = 500 << 20        // hub, 1M paths × 3 hosts
	goalScalePerPath = 300              // bytes of hub memory per path
	scaleGoalPaths   = 1_000_000
)

var scaleHosts = []string{siteA, siteB, siteC}

// scaleHeading starts the scale section of results.md.
const scaleHeading = "## Hub at scale\n"

// scaleRow is what one size measured.
type scaleRow struct {
	paths       int
	entries     int64         // per host: files and folders
	firstWall   time.Duration // session start --wait
	firstHub    time.Duration // the hub's Synced - Started
	firstMerge  time.Duration
	againWall   time.Duration
	againMerge  time.Duration
	scanSend    time.Duration // first start: first Scan received to last Done sent
	hwmIdle     int64         // hub's VmHWM with the agents connected, before the start
	hwmStarted  int64         // after the first start
	hubPeak     int64         // ru_maxrss at exit
	lock        []time.Duration
	lockTimeout int
	load        string
	stoppedAt   string // where the hub was when a run was stopped
	err         error
}

// recorder collects the synthetic agents' events for the measurements to
// wait on.
type recorder struct {
	mu     sync.Mutex
	events map[string]time.Time // by type, host and path: the last one's time
	kick   chan struct{}
}

func newRecorder() *recorder {
	return &recorder{events: map[string]time.Time{}, kick: make(chan struct{}, 1)}
}

func eventKey(t wire.Type, host, path string) string { return string(t) + " " + host + " " + path }

func (r *recorder) notify(host string) func(synthagent.Event) {
	return func(ev synthagent.Event) {
		r.mu.Lock()
		paths := ev.Paths
		if len(paths) == 0 {
			paths = []string{""}
		}
		for _, p := range paths {
			r.events[eventKey(ev.Type, host, p)] = ev.At
		}
		r.mu.Unlock()
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

// reset forgets every event (a new start).
func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = map[string]time.Time{}
}

// latest returns the latest time of the keys' events, and whether all of
// them happened.
func (r *recorder) latest(keys ...string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var last time.Time
	for _, k := range keys {
		t, ok := r.events[k]
		if !ok {
			return time.Time{}, false
		}
		if t.After(last) {
			last = t
		}
	}
	return last, true
}

// wait waits up to d for every one of keys' events and returns the latest.
func (r *recorder) wait(ctx context.Context, d time.Duration, keys ...string) (time.Time, error) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		if t, ok := r.latest(keys...); ok {
			return t, nil
		}
		select {
		case <-r.kick:
		case <-timer.C:
			return time.Time{}, fmt.Errorf("timed out after %s waiting for %s", d, strings.Join(keys, ", "))
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

// scaleAll runs the scale scenario once for each size.
func (b *bench) scaleAll(ctx context.Context) []scaleRow {
	var rows []scaleRow
	for _, n := range b.o.scale.paths {
		b.logf("scale: %d paths × %d hosts", n, len(scaleHosts))
		r := b.scale(ctx, n)
		if r.err != nil {
			b.logf("scale %d: %v", n, r.err)
		}
		rows = append(rows, r)
		if ctx.Err() != nil {
			break
		}
	}
	return rows
}

// scale measures one size on a fresh hub.
func (b *bench) scale(ctx context.Context, n int) (r scaleRow) {
	r = scaleRow{paths: n, load: loadAverage()}
	tree := synthagent.Tree{Files: n, Seed: 1}
	state := fmt.Sprintf("%s/scale-%d", b.tmp, n)
	c, err := startCluster(ctx, b.o.bin, state, b.o.logLevel, b.o.profile, nil)
	if err != nil {
		r.err = err
		return r
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	g, gctx := errgroup.WithContext(ctx)
	rec := newRecorder()
	agents := map[string]*synthagent.Agent{}
	defer func() {
		cancel(nil)
		for _, a := range agents {
			a.Close()
		}
		if err := g.Wait(); err != nil && r.err == nil && ctx.Err() == nil {
			r.err = err
		}
		if cause := context.Cause(ctx); r.err != nil && errors.Is(cause, errTooBig) {
			r.err = cause
		}
		r.hubPeak = c.stop().hub
	}()
	g.Go(func() error {
		watchRSS(gctx, c.hub, b.o.scale.maxRSS, func(cause error) {
			// Read while the agents are still connected: once they are
			// gone, the hub starts the session over.
			r.stoppedAt = whereStopped(c)
			cancel(cause)
		})
		return nil
	})
	for _, h := range scaleHosts {
		a, err := synthagent.Dial(ctx, synthagent.Config{Name: h, BrokerURL: c.brokerWS, Token: c.token, Tree: tree,
			Log: zerolog.Nop(), Notify: rec.notify(h)})
		if err != nil {
			r.err = err
			return r
		}
		agents[h] = a
		g.Go(func() error { return a.Serve(gctx) })
	}
	if r.err = b.scaleRun(ctx, c, rec, agents, &r); r.err != nil && c.hub.exited() {
		r.err = fmt.Errorf("%w\n%s", r.err, c.hub.logTail(15))
	}
	return r
}

// whereStopped reads, from the hub still running, the phase its session
// was in and how many entries it had received of each host's scan.
func whereStopped(c *cluster) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := c.client().Session(ctx, scaleSession)
	if err != nil {
		return fmt.Sprintf("status unknown: %v", err)
	}
	var got []string
	for _, h := range st.Status.Hosts {
		got = append(got, fmt.Sprintf("%s %s", h.Host, count(int(h.Files))))
	}
	return fmt.Sprintf("in phase %s, scan entries received: %s", st.Status.Phase, strings.Join(got, ", "))
}

// errTooBig ends a scale run whose hub outgrew -scale-max-rss.
var errTooBig = errors.New("the hub outgrew -scale-max-rss: stopped")

// watchRSS calls stop, with errTooBig, once p's resident set grows beyond
// limit.
func watchRSS(ctx context.Context, p *proc, limit int64, stop func(error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
		if rss := p.vmRSS(); limit > 0 && rss > limit {
			stop(fmt.Errorf("%w (%s)", errTooBig, size(rss)))
			return
		}
	}
}

// vmRSS reads the running process's resident set (VmRSS), 0 if it cannot.
func (p *proc) vmRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb * 1024
		}
	}
	return 0
}
