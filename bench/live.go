//go:build linux

package main

import (
	"context"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/peerlink/peerlink/testkit/wanlink"
)

// The live scenarios (issue 5's `make bench` proof): a session of three
// hosts running, and this process acting as a user on site-a (its pid is
// not an agent's, so the agents take its opens for a user's).
//
//   - lock: open a file O_RDWR on site-a; time until the copies on site-b
//     and site-c are locked (no write bit, and the immutable flag when the
//     agents can set it); close without writing; time until both are
//     released. One file per sample.
//   - change: rewrite a small file on site-a in place (open O_TRUNC, write,
//     close); time until site-b and site-c both hold the new content.
//   - create: create a small file on site-a (open O_EXCL, write, close);
//     time until site-b and site-c both hold it.
//
// Samples run one after another, each on its own file, the next starting
// once the last one's locks are released and a pause (-live-gap) has passed,
// so that each measures one operation on a quiet session rather than the
// queue behind the last one. The lock scenario also runs once without the
// pause (back to back), to show that queue.

const (
	siteC = "site-c"
	// liveSampleTimeout bounds one sample; a sample that times out counts
	// as this long in the percentiles (and is reported).
	liveSampleTimeout = 10 * time.Second
	// liveSettled is how long the files stand before the session starts:
	// longer than the scan's racy window, so that they are in each
	// agent's scan cache, as on a server whose files were not all written
	// a moment ago, and a close without modification is known as one.
	liveSettled = 2100 * time.Millisecond
	liveMode    = fs.FileMode(0o644)
)

// Goals of issue 5.
const (
	goalLock   = 50 * time.Millisecond
	goalChange = 250 * time.Millisecond
)

var liveScenarios = []string{"lock", "change", "create"}

// liveDirs are the folders the live scenarios write in, on every host.
var liveDirs = []string{"warmup", "lock", "lock2", "change", "create"}

type liveSpec struct {
	samples          int
	minSize, maxSize int
	gap              time.Duration // pause before each sample
}

// liveRow is one measured latency.
type liveRow struct {
	what     string
	goal     time.Duration // 0: none
	samples  []time.Duration
	timedOut int
	err      error
}

// liveRun is the live section of a run.
type liveRun struct {
	started            time.Time
	loadStart, loadEnd string
	imm                bool
	immWhy             string
	rows               []liveRow
	err                error // the setup failed: no rows
}

type liveSession struct {
	roots map[string]string
	w     *dirWatch
	spec  liveSpec
	rng   *rand.Rand
	imm   bool
}

func (s *liveSession) path(host, rel string) string {
	return filepath.Join(s.roots[host], filepath.FromSlash(rel))
}

func (s *liveSession) targets(rel string) []string {
	return []string{s.path(siteB, rel), s.path(siteC, rel)}
}

// content returns new pseudo-random content of a size in the spec's range
// other than avoid, so that a copy's size alone says it is not there yet.
func (s *liveSession) content(avoid int) []byte {
	n := s.spec.minSize + s.rng.IntN(s.spec.maxSize-s.spec.minSize+1)
	if n == avoid {
		n = s.spec.minSize + (n-s.spec.minSize+1)%(s.spec.maxSize-s.spec.minSize+1)
	}
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(s.rng.Uint32())
	}
	return b
}

// live runs the named live scenarios on one three-host session under
// b.tmp/dir, its agents on loopback or, with a shape, each behind an
// emulated WAN link of its own.
func (b *bench) live(ctx context.Context, dir string, shape *wanlink.Shape, names []string) *liveRun {
	run := &liveRun{started: time.Now(), loadStart: loadAverage()}
	defer func() { run.loadEnd = loadAverage() }()
	fail := func(err error) *liveRun {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		run.err = err
		b.logf("live: %v", err)
		return run
	}
	spec := b.o.live
	if spec.samples < 1 || spec.minSize < 1 || spec.maxSize < spec.minSize {
		return fail(fmt.Errorf("-live-samples %d, -live-min-size %d, -live-max-size %d: want at least one sample of at least one byte", spec.samples, spec.minSize, spec.maxSize))
	}
	base := filepath.Join(b.tmp, dir)
	s := &liveSession{roots: map[string]string{}, spec: spec, rng: rand.New(rand.NewPCG(1, 2))}
	hosts := []string{siteA, siteB, siteC}
	for _, h := range hosts {
		s.roots[h] = filepath.Join(base, h)
	}
	var err error
	if run.imm, run.immWhy, err = checkStatxFlags(b.tmp); err != nil {
		return fail(err)
	}
	s.imm = run.imm
	b.logf("live: writing %d files per scenario on %s, %s and %s", spec.samples, siteA, siteB, siteC)
	if err := s.generate(hosts); err != nil {
		return fail(err)
	}
	written := time.Now()
	c, err := startCluster(ctx, b.o.bin, filepath.Join(base, "state"), b.o.logLevel, b.o.profile, shape, hosts...)
	if err != nil {
		return fail(err)
	}
	defer c.stop()
	args := []string{"session", "create", "bench-live"}
	for _, h := range hosts {
		args = append(args, "--host", h+"="+s.roots[h])
	}
	if _, err := c.cli(ctx, args...); err != nil {
		return fail(err)
	}
	select {
	case <-time.After(time.Until(written.Add(liveSettled))):
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	if _, err := c.cli(ctx, "session", "start", "bench-live", "--wait"); err != nil {
		return fail(fmt.Errorf("%w\n%s", err, c.logs(15)))
	}
	var dirs []string
	for _, h := range []string{siteB, siteC} {
		for _, d := range liveDirs {
			dirs = append(dirs, s.path(h, d))
		}
	}
	if s.w, err = watchDirs(dirs...); err != nil {
		return fail(err)
	}
	defer s.w.Close()
	// One untimed round of each, so that every agent's watcher is running
	// and every code path warm before the first sample.
	if err := s.warmUp(); err != nil {
		return fail(fmt.Errorf("warm-up: %w\n%s", err, c.logs(15)))
	}
	for _, name := range liveScenarios {
		if !slices.Contains(names, name) || ctx.Err() != nil {
			continue
		}
		b.logf("live: %s, %d samples (load average %s)", name, spec.samples, loadAverage())
		before := len(run.rows)
		switch name {
		case "lock":
			applied, released := s.lockRows(ctx, "lock", s.spec.gap)
			run.rows = append(run.rows, applied, released)
			if ctx.Err() == nil {
				b.logf("live: lock, %d samples back to back (load average %s)", spec.samples, loadAverage())
				b2b, _ := s.lockRows(ctx, "lock2", 0)
				b2b.what = "the same, back to back: each open as soon as the last release is seen"
				b2b.goal = 0
				run.rows = append(run.rows, b2b)
			}
		case "change":
			run.rows = append(run.rows, s.writeRow(ctx, "change", false))
		case "create":
			run.rows = append(run.rows, s.writeRow(ctx, "create", true))
		}
		for _, r := range run.rows[before:] {
			if r.err != nil {
				b.logf("live: %s: %v\n%s", name, r.err, c.logs(15))
			}
		}
	}
	if ctx.Err() != nil {
		return fail(ctx.Err())
	}
	for _, r := range run.rows {
		q := quantiles(r.samples)
		b.logf("live: %s: p50 %s p90 %s p99 %s max %s (%d samples, %d timed out)", r.what, ms(q.p50), ms(q.p90), ms(q.p99), ms(q.max), len(r.samples), r.timedOut)
	}
	return run
}

// generate writes the scenarios' files, the same on every host with the
// same mtime, so that the session starts with nothing to copy.
func (s *liveSession) generate(hosts []string) error {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	files := map[string][]byte{"warmup/lock": s.content(0), "warmup/change": s.content(0)}
	for i := range s.spec.samples {
		files[fmt.Sprintf("lock/f%03d", i)] = s.content(0)
		files[fmt.Sprintf("lock2/f%03d", i)] = s.content(0)
		files[fmt.Sprintf("change/f%03d", i)] = s.content(0)
	}
	for _, h := range hosts {
		for _, d := range liveDirs {
			if err := os.MkdirAll(s.path(h, d), 0o755); err != nil {
				return err
			}
		}
		for rel, b := range files {
			p := s.path(h, rel)
			if err := os.WriteFile(p, b, liveMode); err != nil {
				return err
			}
			if err := os.Chmod(p, liveMode); err != nil {
				return err
			}
			if err := os.Chtimes(p, t0, t0); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *liveSession) warmUp() error {
	if _, _, err := s.lockOnce("warmup/lock"); err != nil {
		return err
	}
	_, err := s.writeOnce("warmup/change", false)
	return err
}

// lockOnce opens rel on site-a for writing and returns how long the two
// targets took to be locked, and after the close without modification to
// be released.
func (s *liveSession) lockOnce(rel string) (applied, released time.Duration, err error) {
	tg := s.targets(rel)
	t0 := time.Now()
	f, err := os.OpenFile(s.path(siteA, rel), os.O_RDWR, 0)
	if err != nil {
		return 0, 0, err
	}
	at, ok := s.w.until(t0.Add(liveSampleTimeout), func() bool {
		return statCopy(tg[0]).locked(s.imm) && statCopy(tg[1]).locked(s.imm)
	})
	t1 := time.Now()
	f.Close()
	if !ok {
		err = fmt.Errorf("%s: the copies on %s and %s were not locked within %s", rel, siteB, siteC, liveSampleTimeout)
		applied = liveSampleTimeout
	} else {
		applied = at.Sub(t0)
	}
	at, ok = s.w.until(t1.Add(liveSampleTimeout), func() bool {
		return statCopy(tg[0]).released(liveMode) && statCopy(tg[1]).released(liveMode)
	})
	if !ok {
		if err == nil {
			err = fmt.Errorf("%s: the copies on %s and %s were not released within %s of the close", rel, siteB, siteC, liveSampleTimeout)
		}
		return applied, liveSampleTimeout, err
	}
	return applied, at.Sub(t1), err
}

// writeOnce writes new content to rel on site-a (creating it, if create)
// and returns how long until site-b and site-c both hold it. It then waits,
// untimed, until the targets' copies are released.
func (s *liveSession) writeOnce(rel string, create bool) (time.Duration, error) {
	old := 0
	if fi, err := os.Stat(s.path(siteA, rel)); err == nil {
		old = int(fi.Size())
	}
	want := s.content(old)
	tg := s.targets(rel)
	probes := []*contentProbe{{path: tg[0], want: want}, {path: tg[1], want: want}}
	flag := os.O_WRONLY | os.O_TRUNC
	if create {
		flag = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	}
	t0 := time.Now()
	f, err := os.OpenFile(s.path(siteA, rel), flag, liveMode)
	if err != nil {
		return 0, err
	}
	_, werr := f.Write(want)
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr != nil {
		return 0, werr
	}
	at, ok := s.w.until(t0.Add(liveSampleTimeout), func() bool { return probes[0].holds() && probes[1].holds() })
	if !ok {
		return liveSampleTimeout, fmt.Errorf("%s: %s and %s did not both hold the new content within %s", rel, siteB, siteC, liveSampleTimeout)
	}
	// Let the propagation end (the targets' locks released) before the next
	// sample starts.
	s.w.until(time.Now().Add(liveSampleTimeout), func() bool {
		return statCopy(tg[0]).released(liveMode) && statCopy(tg[1]).released(liveMode)
	})
	return at.Sub(t0), nil
}

func (s *liveSession) lockRows(ctx context.Context, dir string, gap time.Duration) (applied, released liveRow) {
	applied = liveRow{what: "lock applied on site-b and site-c after an O_RDWR open on site-a", goal: goalLock}
	released = liveRow{what: "lock released on both after the close without modification"}
	for i := range s.spec.samples {
		if !pause(ctx, gap) {
			break
		}
		a, r, err := s.lockOnce(fmt.Sprintf("%s/f%03d", dir, i))
		applied.samples = append(applied.samples, a)
		released.samples = append(released.samples, r)
		if err != nil {
			if a >= liveSampleTimeout {
				applied.timedOut++
			} else {
				released.timedOut++
			}
			if applied.err == nil {
				applied.err = err
			}
		}
	}
	return applied, released
}

func (s *liveSession) writeRow(ctx context.Context, name string, create bool) liveRow {
	r := liveRow{what: fmt.Sprintf("small file (%s–%s) rewritten on site-a (open O_TRUNC, write, close): new content on site-b and site-c", size(int64(s.spec.minSize)), size(int64(s.spec.maxSize))), goal: goalChange}
	if create {
		r.what = fmt.Sprintf("small file (%s–%s) created on site-a (open O_EXCL, write, close): on site-b and site-c", size(int64(s.spec.minSize)), size(int64(s.spec.maxSize)))
	}
	for i := range s.spec.samples {
		if !pause(ctx, s.spec.gap) {
			break
		}
		d, err := s.writeOnce(fmt.Sprintf("%s/f%03d", name, i), create)
		if err != nil && d == 0 {
			r.err = err // the write itself failed: the bench, not peerlink
			break
		}
		r.samples = append(r.samples, d)
		if err != nil {
			r.timedOut++
			if r.err == nil {
				r.err = err
			}
		}
	}
	return r
}

// pause waits d, false if ctx ended first.
func pause(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

type quants struct{ p50, p90, p99, max time.Duration }

// quantiles are nearest-rank percentiles: p99 of 200 samples is the 198th.
func quantiles(d []time.Duration) quants {
	if len(d) == 0 {
		return quants{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return quants{rank(0.50), rank(0.90), rank(0.99), s[len(s)-1]}
}

func ms(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	case d < 10*time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
}
