//go:build linux

// Command bench measures peerlink against cp -r and rsync -a on this
// machine: `make bench` builds bin/peerlink and runs
//
//	go run ./bench -bin bin/peerlink -out bench/results.md
//
// Every scenario runs a hub (with its embedded broker) and two agents as
// separate processes on 127.0.0.1, on free ports, with fresh temp roots; the
// same source tree is copied by `cp -r` and `rsync -a` to fresh destinations
// on the same file system. Everything the bench starts is stopped and every
// temp folder removed at the end, Ctrl-C included.
//
// Scenarios (-only, comma separated): small (10,000 × 10 KiB), tiny
// (100,000 × 1 KiB), big (one 1 GiB file), medium (64 × 16 MiB: many large
// files in flight at once, the worst case for the agents' memory), restart
// (session stop + start --wait of the synchronised tiny tree), the live
// scenarios (lock, change, create: live.go) and the wan scenarios, the
// agents and rsync behind emulated WAN links (wan.go). The scale scenario
// (scale.go), run only when named, loads a hub with millions of paths from
// synthetic agents in the bench's process (testkit/synthagent). Sizes have
// flags of their own, for quick runs during development.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	bin       string
	out       string
	only      map[string]bool
	small     treeSpec
	tiny      treeSpec
	big       treeSpec
	medium    treeSpec
	restarts  int
	dir       string
	keep      bool
	verify    bool
	logLevel  string
	profile   string
	noRsync   bool
	rsyncPath string
	live      liveSpec
	wan       wanSpec
	watch     watchSpec
	scale     scaleSpec
}

func main() {
	if os.Getenv(watchChildEnv) != "" {
		os.Exit(watchChild())
	}
	var o options
	var only, scalePaths string
	flag.StringVar(&o.bin, "bin", "bin/peerlink", "the peerlink binary to measure (make build writes bin/peerlink)")
	flag.StringVar(&o.out, "out", "", "also write the results as markdown to this file")
	flag.StringVar(&only, "only", "small,tiny,big,medium,restart,lock,change,create,wan,watch", "scenarios to run: small, tiny, big, medium, restart, lock, change, create (live: these three), watch (the watcher's start on a large root, inotify and fanotify), wan-edit, wan-small, wan-corpus, wan-lock, wan-change (wan: these five), scale (the hub with millions of paths from synthetic agents: not run unless named)")
	flag.StringVar(&scalePaths, "scale-paths", "100000", "paths of the scale scenario, comma separated: one run each (the issue's sizes: 1000000,10000000)")
	flag.IntVar(&o.scale.samples, "scale-samples", 100, "live lock samples of each scale run")
	flag.Int64Var(&o.scale.maxRSS, "scale-max-rss", 8<<30, "bytes: a scale run whose hub grows beyond this resident set is stopped (and fails)")
	flag.IntVar(&o.small.files, "small-files", 10_000, "files of the small scenario")
	flag.Int64Var(&o.small.size, "small-size", 10<<10, "bytes per file of the small scenario")
	flag.IntVar(&o.tiny.files, "tiny-files", 100_000, "files of the tiny scenario (and of restart)")
	flag.Int64Var(&o.tiny.size, "tiny-size", 1<<10, "bytes per file of the tiny scenario")
	flag.Int64Var(&o.big.size, "big-size", 1<<30, "bytes of the big scenario's one file")
	flag.IntVar(&o.medium.files, "medium-files", 64, "files of the medium scenario (many large files at once: the agents' memory)")
	flag.Int64Var(&o.medium.size, "medium-size", 16<<20, "bytes per file of the medium scenario")
	flag.IntVar(&o.watch.files, "watch-files", 100_000, "files of the watch scenario (the full size: 1000000)")
	flag.IntVar(&o.watch.dirs, "watch-dirs", 10_000, "folders of the watch scenario (the full size: 100000)")
	flag.IntVar(&o.restarts, "restarts", 3, "timed restarts (the median is reported)")
	flag.IntVar(&o.live.samples, "live-samples", 200, "samples of each live scenario (lock, change, create), one file each")
	flag.IntVar(&o.live.minSize, "live-min-size", 1<<10, "smallest file of the change and create scenarios, bytes")
	flag.IntVar(&o.live.maxSize, "live-max-size", 4<<10, "largest file of the change and create scenarios, bytes")
	flag.DurationVar(&o.live.gap, "live-gap", 50*time.Millisecond, "pause before each live sample, so that it starts on a quiet session")
	flag.Float64Var(&o.wan.rateMbit, "wan-rate", 50, "bandwidth of each emulated WAN link, Mbit/s each way (the wan scenarios)")
	flag.DurationVar(&o.wan.rtt, "wan-rtt", 40*time.Millisecond, "round trip of each emulated WAN link, half of it each way")
	flag.Int64Var(&o.wan.big, "wan-big", 1<<30, "bytes of the large file of the wan-edit rows")
	flag.IntVar(&o.wan.small.files, "wan-small-files", 10_000, "files of the wan-small scenario")
	flag.Int64Var(&o.wan.small.size, "wan-small-size", 10<<10, "bytes per file of the wan-small scenario")
	flag.Int64Var(&o.wan.corpus, "wan-corpus", 200<<20, "bytes of the compressible corpus of the wan-corpus scenario")
	flag.StringVar(&o.wan.corpusSrc, "wan-corpus-from", filepath.Join(runtime.GOROOT(), "src"), "source tree copied (as many times as needed) to make the corpus")
	flag.DurationVar(&o.wan.timeout, "wan-timeout", 30*time.Minute, "longest wait for one wan-edit propagation")
	flag.StringVar(&o.dir, "dir", "", "folder to create the bench's temp folder in (default $TMPDIR): the file system measured")
	flag.BoolVar(&o.keep, "keep", false, "keep the temp folder (logs, trees) instead of removing it")
	flag.BoolVar(&o.verify, "verify", true, "check every synchronised tree against its source (not timed)")
	flag.StringVar(&o.logLevel, "log-level", "info", "log level of the peerlink processes (logs go to the temp folder)")
	flag.StringVar(&o.profile, "cpuprofile", "", "write CPU profiles of the hub and agents into this folder (PEERLINK_CPUPROFILE)")
	flag.BoolVar(&o.noRsync, "no-rsync", false, "do not measure rsync even if it is installed")
	flag.Parse()
	o.big.files = 1
	o.only = map[string]bool{}
	for _, s := range strings.Split(only, ",") {
		s = strings.TrimSpace(s)
		switch s {
		case "":
		case "small", "tiny", "big", "medium", "restart", "lock", "change", "create", "watch",
			"wan-edit", "wan-small", "wan-corpus", "wan-lock", "wan-change", "scale":
			o.only[s] = true
		case "live":
			for _, n := range liveScenarios {
				o.only[n] = true
			}
		case "wan":
			for _, n := range wanScenarios {
				o.only[n] = true
			}
		default:
			fmt.Fprintf(os.Stderr, "bench: -only %q: unknown scenario %q (small, tiny, big, medium, restart, lock, change, create, live, watch, wan-edit, wan-small, wan-corpus, wan-lock, wan-change, wan, scale)\n", only, s)
			os.Exit(2)
		}
	}
	for _, p := range strings.Split(scalePaths, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "bench: -scale-paths %q: %q is not a positive number of paths\n", scalePaths, p)
			os.Exit(2)
		}
		o.scale.paths = append(o.scale.paths, n)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, o)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// row is one line of the results table.
type row struct {
	scenario string
	files    int
	bytes    int64
	peerlink time.Duration // wall time of the CLI command(s)
	hubTook  time.Duration // the hub's own Synced - Started
	spread   string        // min-max of repeated runs
	cp       time.Duration
	cpSync   time.Duration
	rsync    time.Duration
	rsyncWhy string // what rsync measured, when not a fresh copy
	cpWhy    string
	note     string // what went wrong without failing the run
	rss      rss
	agents   []string
	err      error
}

func run(ctx context.Context, o options) error {
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("-bin %s: %w (run `make build` first, or `make bench`)", o.bin, err)
	}
	o.bin = bin
	if !o.noRsync {
		o.rsyncPath, _ = exec.LookPath("rsync")
	}
	if o.profile != "" {
		if o.profile, err = filepath.Abs(o.profile); err != nil {
			return err
		}
		if err := os.MkdirAll(o.profile, 0o755); err != nil {
			return err
		}
	}
	tmp, err := os.MkdirTemp(o.dir, "peerlink-bench-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Fprintf(os.Stderr, "bench: keeping %s\n", tmp)
	} else {
		defer func() {
			fmt.Fprintf(os.Stderr, "bench: removing %s\n", tmp)
			if err := removeAll(tmp); err != nil {
				fmt.Fprintln(os.Stderr, "bench:", err)
			}
		}()
	}
	b := &bench{o: o, tmp: tmp, facts: machineFacts(tmp), started: time.Now()}
	b.logf("machine: %d CPUs (%s), %s RAM, %s, %s; file system: %s", b.facts.CPUs, b.facts.CPUModel, b.facts.Memory,
		b.facts.Kernel, b.facts.GoVersion, b.facts.FileSystem)
	if o.rsyncPath == "" {
		b.logf("rsync not measured (not installed, or -no-rsync)")
	}
	var tiny *synced
	for _, sc := range []struct {
		name string
		spec treeSpec
	}{{"small", o.small}, {"tiny", o.tiny}, {"big", o.big}, {"medium", o.medium}} {
		if !o.only[sc.name] {
			continue
		}
		keep := sc.name == "tiny" && o.only["restart"]
		r, s := b.initial(ctx, sc.name, sc.spec, keep)
		b.rows = append(b.rows, r)
		if keep {
			tiny = s
		}
		if ctx.Err() != nil {
			break
		}
	}
	if o.only["restart"] && ctx.Err() == nil {
		b.rows = append(b.rows, b.restart(ctx, tiny)...)
	}
	if slices.ContainsFunc(liveScenarios, func(n string) bool { return o.only[n] }) && ctx.Err() == nil {
		var names []string
		for _, n := range liveScenarios {
			if o.only[n] {
				names = append(names, n)
			}
		}
		b.liveRun = b.live(ctx, "live", nil, names)
	}
	if o.wanSelected() && ctx.Err() == nil {
		b.wanRun = b.wan(ctx)
	}
	if o.only["watch"] && ctx.Err() == nil {
		if err := b.writeWatch(ctx); err != nil {
			return err
		}
	}
	var scaleRows []scaleRow
	if o.only["scale"] && ctx.Err() == nil {
		scaleRows = b.scaleAll(ctx)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	var syncMD, liveMD, wanMD, scaleMD string
	if len(scaleRows) > 0 {
		scaleMD = b.scaleMarkdown(scaleRows)
	}
	if len(b.rows) > 0 {
		syncMD = b.markdown()
	}
	if b.liveRun != nil {
		liveMD = b.liveMarkdown()
	}
	if b.wanRun != nil {
		wanMD = b.wanMarkdown()
	}
	fmt.Println()
	fmt.Print(mergeResults("", syncMD, liveMD, wanMD, scaleMD))
	if o.out != "" {
		old, err := os.ReadFile(o.out)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := os.WriteFile(o.out, []byte(mergeResults(string(old), syncMD, liveMD, wanMD, scaleMD)), 0o644); err != nil {
			return err
		}
		b.logf("wrote %s", o.out)
	}
	failed := b.liveRun != nil && b.liveRun.err != nil
	for _, r := range scaleRows {
		failed = failed || r.err != nil
	}
	for _, r := range b.rows {
		failed = failed || r.err != nil
	}
	if b.liveRun != nil {
		for _, r := range b.liveRun.rows {
			failed = failed || r.err != nil
		}
	}
	if w := b.wanRun; w != nil {
		failed = failed || w.err != nil || (w.live != nil && w.live.err != nil)
		for _, r := range w.rows {
			failed = failed || r.err != nil
		}
		if w.live != nil {
			for _, r := range w.live.rows {
				failed = failed || r.err != nil
			}
		}
	}
	if failed {
		return errors.New("some scenarios failed (see the table)")
	}
	return nil
}

type bench struct {
	o       options
	tmp     string
	facts   facts
	started time.Time
	rows    []row
	load    []string // the load average as each scenario started
	liveRun *liveRun // the live scenarios, if they ran
	wanRun  *wanRun  // the wan scenarios, if they ran
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

// synced is a tree a scenario synchronised and kept for the restart.
type synced struct {
	name    string // session
	base    string
	src     string
	state   string
	roots   map[string]string
	cp      time.Duration
	cpSync  time.Duration
	rsyncNC time.Duration // rsync -a of the same tree onto an identical copy
}

const (
	siteA = "site-a"
	siteB = "site-b"
)

// initial measures the first synchronisation of a generated tree: cp -r,
// rsync -a, then peerlink from site-a (which holds the tree) to an empty
// site-b.
func (b *bench) initial(ctx context.Context, name string, spec treeSpec, keep bool) (row, *synced) {
	r := row{scenario: scenarioName(name, spec), files: spec.files, bytes: spec.bytes(), agents: []string{siteA, siteB}}
	base := filepath.Join(b.tmp, name)
	s := &synced{name: "bench-" + name, base: base, src: filepath.Join(base, siteA), state: filepath.Join(base, "state"),
		roots: map[string]string{siteA: filepath.Join(base, siteA), siteB: filepath.Join(base, siteB)}}
	// Trees stay until the run ends (see copyWith): the next scenario must
	// not allocate among the inodes this one freed.
	b.load = append(b.load, name+" "+loadAverage())
	fail := func(err error) (row, *synced) {
		if ctx.Err() != nil {
			err = ctx.Err() // interrupted: no need for the processes' logs
		}
		r.err = err
		b.logf("%s: %v", name, err)
		return r, nil
	}
	b.logf("%s: generating %d files of %s", name, spec.files, size(spec.size))
	if err := generate(ctx, s.src, spec); err != nil {
		return fail(err)
	}

	// cp -r to a fresh destination, then the same followed by sync(2):
	// peerlink makes what it writes durable, cp does not.
	var err error
	if r.cp, r.cpSync, err = b.copyWith(ctx, base, "cp", "-r", s.src, filepath.Join(base, "cp")); err != nil {
		return fail(err)
	}
	s.cp, s.cpSync = r.cp, r.cpSync
	b.logf("%s: cp -r %s (with sync %s)", name, r.cp.Round(time.Millisecond), r.cpSync.Round(time.Millisecond))
	if b.o.rsyncPath != "" {
		dst := filepath.Join(base, "rsync")
		if r.rsync, _, err = b.copyWith(ctx, base, b.o.rsyncPath, "-a", s.src+"/", dst+"/"); err != nil {
			return fail(err)
		}
		b.logf("%s: rsync -a %s", name, r.rsync.Round(time.Millisecond))
		if keep {
			// A no-change rsync, the counterpart of a restart.
			syscall.Sync()
			start := time.Now()
			if out, err := exec.CommandContext(ctx, b.o.rsyncPath, "-a", s.src+"/", dst+"/").CombinedOutput(); err != nil {
				return fail(fmt.Errorf("rsync: %v: %s", err, out))
			}
			s.rsyncNC = time.Since(start)
			b.logf("%s: rsync -a with nothing to copy %s", name, s.rsyncNC.Round(time.Millisecond))
		}
	}

	// peerlink
	if err := os.MkdirAll(s.roots[siteB], 0o755); err != nil {
		return fail(err)
	}
	c, err := startCluster(ctx, b.o.bin, s.state, b.o.logLevel, b.o.profile, nil, siteA, siteB)
	if err != nil {
		return fail(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			c.stop()
		}
	}()
	args := []string{"session", "create", s.name}
	for _, h := range []string{siteA, siteB} {
		args = append(args, "--host", h+"="+s.roots[h])
	}
	if _, err := c.cli(ctx, args...); err != nil {
		return fail(err)
	}
	syscall.Sync()
	b.logf("%s: peerlink session start --wait", name)
	start := time.Now()
	_, err = c.cli(ctx, "session", "start", s.name, "--wait")
	r.peerlink = time.Since(start)
	if err != nil {
		return fail(fmt.Errorf("%w\n%s", err, c.logs(15)))
	}
	st, err := c.session(ctx, s.name)
	if err != nil {
		return fail(err)
	}
	if !st.Status.Started.IsZero() && st.Status.Synced.After(st.Status.Started) {
		r.hubTook = st.Status.Synced.Sub(st.Status.Started)
	}
	if n := c.restarts(); n > 0 {
		r.note = fmt.Sprintf("started over %d times by the hub during the sync, the time includes every attempt", n)
		r.hubTook = 0 // the status is the last attempt's
	}
	b.logf("%s: peerlink %s (hub: %s; %d files, %s)", name, r.peerlink.Round(time.Millisecond), r.hubTook.Round(time.Millisecond),
		st.Status.Files.Done, size(st.Status.Bytes.Done))
	if r.note != "" {
		b.logf("%s: %s", name, r.note)
	}
	if keep {
		if _, err := c.cli(ctx, "session", "stop", s.name); err != nil {
			return fail(err)
		}
	}
	b.logf("%s: stopping the processes", name)
	r.rss = c.stop()
	stopped = true
	if b.o.verify {
		b.logf("%s: verifying site-b", name)
		if err := verify(ctx, s.src, s.roots[siteB], true); err != nil {
			return fail(err)
		}
		b.logf("%s: site-b verified against the source", name)
	}
	return r, s
}

// copyWith times a copy command to a fresh destination, then the same plus
// a sync(2). The copy stays until the scenario ends: removing it would
// make the next tool's run slower than its own. ext4 (without a journal,
// as on the machine this bench was written on) skips inodes freed in the
// last 30 s when it allocates one, checking each: measured, creating files
// right after 200,000 were removed cost three times as much CPU.
func (b *bench) copyWith(ctx context.Context, base, name string, args ...string) (plain, synced time.Duration, err error) {
	syscall.Sync()
	start := time.Now()
	if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("%s: %v: %s", name, err, out)
	}
	plain = time.Since(start)
	syscall.Sync()
	synced = time.Since(start)
	return plain, synced, nil
}

func scenarioName(name string, spec treeSpec) string {
	if name == "big" {
		return fmt.Sprintf("initial sync, one %s file", size(spec.size))
	}
	return fmt.Sprintf("initial sync, %s × %s files", count(spec.files), size(spec.size))
}
