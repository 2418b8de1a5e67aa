//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/peerlink/peerlink/testkit/wanlink"
)

// The wan scenarios (issue 11): the same processes as the other
// scenarios, but every agent reaches the broker through an emulated WAN
// link of its own (testkit/wanlink: Toxiproxy in this process), and rsync
// runs beside them in the same run, client and daemon on either end of a
// link of the same shape. Each link counts the bytes that cross it, so
// peerlink and rsync are measured by the same counters.
//
//   - wan-edit: a 1 GiB file on site-a and site-b, session running; one
//     byte overwritten in place, then 1 KiB inserted in the middle saved
//     by rename as editors do; timed from the write (the rename) on
//     site-a until site-b holds the new content; rsync of the same change
//     onto its old copy.
//   - wan-small: initial sync of 10,000 × 10 KiB, against rsync -a.
//   - wan-corpus: initial sync of a compressible corpus (copies of Go's
//     own source tree), against rsync -az.
//   - wan-lock, wan-change: the live scenarios' lock and change rows
//     (live.go) with every agent behind its link.

var wanScenarios = []string{"wan-edit", "wan-small", "wan-corpus", "wan-lock", "wan-change"}

type wanSpec struct {
	rateMbit  float64
	rtt       time.Duration
	big       int64
	small     treeSpec
	corpus    int64
	corpusSrc string
	timeout   time.Duration
}

func (s wanSpec) shape() wanlink.Shape {
	return wanlink.Shape{RTT: s.rtt, Rate: int64(s.rateMbit * 1e6 / 8)}
}

// wanGoal is what a row of the table asks of peerlink.
type wanGoal struct {
	maxBytes     int64 // on the busier link, both directions; 0: none
	timeVsRsync  bool  // no slower than rsync through its link
	bytesVsRsync bool  // no more bytes than rsync through its link
	text         string
}

type wanRow struct {
	what   string
	goal   wanGoal
	took   time.Duration
	link   string // the busier agent link
	up     int64  // bytes the agent sent on it
	down   int64  // bytes it received
	rsync  *rsyncRun
	rsWhat string // the rsync command measured
	err    error
}

type wanRun struct {
	started            time.Time
	loadStart, loadEnd string
	shape              wanlink.Shape
	rsyncVersion       string
	rows               []wanRow
	live               *liveRun
	err                error
}

// wan runs the selected wan scenarios.
func (b *bench) wan(ctx context.Context) *wanRun {
	shape := b.o.wan.shape()
	run := &wanRun{started: time.Now(), loadStart: loadAverage(), shape: shape}
	defer func() { run.loadEnd = loadAverage() }()
	b.logf("wan: every link %s", shape)
	var d *rsyncd
	if b.o.rsyncPath != "" {
		out, _ := exec.Command(b.o.rsyncPath, "--version").Output()
		first, _, _ := strings.Cut(string(out), "\n")
		run.rsyncVersion = strings.Join(strings.Fields(first), " ")
		var err error
		if d, err = startRsyncd(ctx, b.o.rsyncPath, filepath.Join(b.tmp, "wan", "rsyncd"), shape); err != nil {
			run.err = err
			return run
		}
		defer d.stop()
	}
	if b.o.only["wan-edit"] {
		run.rows = append(run.rows, b.wanEdit(ctx, shape, d)...)
	}
	if b.o.only["wan-small"] && ctx.Err() == nil {
		spec := b.o.wan.small
		run.rows = append(run.rows, b.wanInitial(ctx, shape, d, "small",
			fmt.Sprintf("initial sync, %s × %s files (incompressible)", count(spec.files), size(spec.size)),
			func(dir string) error { return generate(ctx, dir, spec) },
			wanGoal{timeVsRsync: true, text: "time ≤ rsync -a's"}, "-a"))
	}
	if b.o.only["wan-corpus"] && ctx.Err() == nil {
		var n int64
		r := b.wanInitial(ctx, shape, d, "corpus", "",
			func(dir string) (err error) {
				n, err = copyCorpus(ctx, b.o.wan.corpusSrc, dir, b.o.wan.corpus)
				return err
			},
			wanGoal{bytesVsRsync: true, text: "bytes ≤ rsync -az's"}, "-az")
		r.what = fmt.Sprintf("initial sync of a compressible corpus: %s of copies of %s", size(n), b.o.wan.corpusSrc)
		run.rows = append(run.rows, r)
	}
	var live []string
	for _, n := range liveScenarios {
		if b.o.only["wan-"+n] {
			live = append(live, n)
		}
	}
	if len(live) > 0 && ctx.Err() == nil {
		run.live = b.live(ctx, "live-wan", &shape, live)
		// The goals over a WAN, in round trips of the link.
		for i := range run.live.rows {
			switch run.live.rows[i].goal {
			case goalLock:
				run.live.rows[i].goal = shape.RTT + 10*time.Millisecond
			case goalChange:
				run.live.rows[i].goal = 2*shape.RTT + 60*time.Millisecond
			}
		}
	}
	return run
}

// wanInitial measures the first synchronisation of a tree fill writes,
// site-a to an empty site-b over the links, then rsync FLAGS of the same
// tree to an empty folder through rsync's link.
func (b *bench) wanInitial(ctx context.Context, shape wanlink.Shape, d *rsyncd, name, what string, fill func(string) error, goal wanGoal, flags ...string) wanRow {
	r := wanRow{what: what, goal: goal, rsWhat: "rsync " + strings.Join(flags, " ")}
	fail := func(err error) wanRow {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		r.err = err
		b.logf("wan-%s: %v", name, err)
		return r
	}
	base := filepath.Join(b.tmp, "wan", name)
	src, dst := filepath.Join(base, siteA), filepath.Join(base, siteB)
	b.logf("wan-%s: writing the source tree", name)
	if err := fill(src); err != nil {
		return fail(err)
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return fail(err)
	}
	c, err := startCluster(ctx, b.o.bin, filepath.Join(base, "state"), b.o.logLevel, b.o.profile, &shape, siteA, siteB)
	if err != nil {
		return fail(err)
	}
	defer c.stop()
	if _, err := c.cli(ctx, "session", "create", "wan-"+name, "--host", siteA+"="+src, "--host", siteB+"="+dst); err != nil {
		return fail(err)
	}
	syscall.Sync()
	b.logf("wan-%s: peerlink session start --wait (load average %s)", name, loadAverage())
	w0 := c.wireBytes()
	start := time.Now()
	if _, err := c.cli(ctx, "session", "start", "wan-"+name, "--wait"); err != nil {
		return fail(fmt.Errorf("%w\n%s", err, c.logs(15)))
	}
	r.took = time.Since(start)
	r.link, r.up, r.down = c.wireBytes().since(w0).busiest()
	b.logf("wan-%s: peerlink %s, %s on %s's link (%s up, %s down)", name, dur(r.took), size(r.up+r.down), r.link, size(r.up), size(r.down))
	c.stop()
	if b.o.verify {
		if err := verify(ctx, src, dst, true); err != nil {
			return fail(err)
		}
	}
	if d != nil {
		b.logf("wan-%s: %s (load average %s)", name, r.rsWhat, loadAverage())
		rr, err := d.push(ctx, src, name, flags...)
		if err != nil {
			return fail(err)
		}
		r.rsync = &rr
		b.logf("wan-%s: rsync %s, %s on its link (--stats: %s sent, %s received)", name, dur(rr.took), size(rr.up+rr.down), size(rr.statSent), size(rr.statRecvd))
	}
	return r
}

// copyCorpus copies the regular files of from into dir (copy0/, copy1/,
// ...) until at least want bytes are there, and returns how many are.
func copyCorpus(ctx context.Context, from, dir string, want int64) (int64, error) {
	var n int64
	for k := 0; n < want; k++ {
		copied := n
		err := filepath.WalkDir(from, func(p string, e fs.DirEntry, err error) error {
			if err != nil || n >= want {
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !e.Type().IsRegular() {
				return nil
			}
			rel, _ := filepath.Rel(from, p)
			m, err := copyFile(p, filepath.Join(dir, fmt.Sprintf("copy%d", k), rel))
			n += m
			return err
		})
		if err != nil {
			return n, fmt.Errorf("copy the corpus from %s: %w", from, err)
		}
		if n == copied {
			return n, fmt.Errorf("copy the corpus: %s holds no files", from)
		}
	}
	return n, nil
}

func copyFile(src, dst string) (int64, error) {
	in, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// wanSelected says whether any wan scenario is to run.
func (o options) wanSelected() bool {
	return slices.ContainsFunc(wanScenarios, func(n string) bool { return o.only[n] })
}
