//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/peerlink/peerlink/sync/watch"
)

// The watch scenario: how long an agent's watcher takes from its start to
// watching a large root, and its memory, with tree changes from inotify (a
// watch per folder) and from fanotify (one mark on the file system). The
// watcher runs alone in a child process (this binary again), so that its
// start and its RSS are its own, not a hub's or a scan's.

// watchChildEnv, set to "ROOT\tTREE", makes this binary that child.
const watchChildEnv = "PEERLINK_BENCH_WATCH"

// watchSpec is the watch scenario's tree.
type watchSpec struct{ files, dirs int }

// watchRow is one tree watch's measurement.
type watchRow struct {
	tree         string
	ready        time.Duration // exec to watching
	rss, hwm     int64         // the child's, once watching
	first, limit string        // what the watcher said first, if anything
	err          error
}

// watchChild is the child: it watches the root and reports when New
// returned and its memory then.
func watchChild() int {
	root, name, _ := strings.Cut(os.Getenv(watchChildEnv), "\t")
	tree, err := watch.ParseTree(name)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	w, err := watch.New(context.Background(), root, watch.Options{Tree: tree, Mode: watch.InotifyOnly})
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	defer w.Close()
	first := ""
	select {
	case ev := <-w.Events():
		first = ev.Op.String()
	case <-time.After(100 * time.Millisecond):
	}
	fmt.Printf("ready %s %d %d %s\n", w.Tree(), statusKiB("VmRSS:"), statusKiB("VmHWM:"), first)
	return 0
}

// statusKiB reads a /proc/self/status line's value in KiB.
func statusKiB(key string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key); ok {
			var n int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &n)
			return n
		}
	}
	return 0
}

// watchScenario builds the tree and measures both tree watches on it.
func (b *bench) watchScenario(ctx context.Context, spec watchSpec) []watchRow {
	root := filepath.Join(b.tmp, "watch")
	t0 := time.Now()
	if err := makeWatchTree(ctx, root, spec); err != nil {
		return []watchRow{{tree: "both", err: err}}
	}
	b.logf("watch: %d files in %d folders made in %s", spec.files, spec.dirs, dur(time.Since(t0)))
	var rows []watchRow
	for _, tree := range []watch.Tree{watch.TreeInotify, watch.TreeFanotify} {
		r := b.watchOnce(ctx, root, tree)
		b.logf("watch: %s: watching after %s, RSS %s (peak %s) %s %v", tree, dur(r.ready), size(r.rss), size(r.hwm), r.first, r.err)
		rows = append(rows, r)
	}
	return rows
}

// watchOnce starts the child on root with tree and waits until it watches.
func (b *bench) watchOnce(ctx context.Context, root string, tree watch.Tree) watchRow {
	r := watchRow{tree: tree.String()}
	self, err := os.Executable()
	if err != nil {
		r.err = err
		return r
	}
	cmd := exec.CommandContext(ctx, self)
	cmd.Env = append(os.Environ(), watchChildEnv+"="+root+"\t"+tree.String())
	out, err := cmd.StdoutPipe()
	if err != nil {
		r.err = err
		return r
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		r.err = err
		return r
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	r.ready = time.Since(start)
	cmd.Wait()
	f := strings.Fields(line)
	if len(f) < 4 || f[0] != "ready" {
		r.err = fmt.Errorf("watcher: %s", strings.TrimSpace(line))
		return r
	}
	var rss, hwm int64
	fmt.Sscan(f[2], &rss)
	fmt.Sscan(f[3], &hwm)
	r.rss, r.hwm = rss<<10, hwm<<10
	if len(f) > 4 {
		r.first = f[4]
	}
	if f[1] != tree.String() {
		r.err = fmt.Errorf("asked for %s, watched by %s", tree, f[1])
	}
	return r
}

// makeWatchTree makes spec.dirs folders, 100 at the top and the rest
// spread below them, and spec.files empty files spread over them.
func makeWatchTree(ctx context.Context, root string, spec watchSpec) error {
	top := min(100, spec.dirs)
	per := max(1, spec.files/max(1, spec.dirs))
	made := 0
	for i := 0; i < spec.dirs; i++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		d := filepath.Join(root, fmt.Sprintf("t%03d", i%top))
		if i >= top {
			d = filepath.Join(d, fmt.Sprintf("d%06d", i))
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		for j := 0; j < per && made < spec.files; j++ {
			f, err := os.Create(filepath.Join(d, fmt.Sprintf("f%02d.txt", j)))
			if err != nil {
				return err
			}
			f.Close()
			made++
		}
	}
	return nil
}

// watchMarkdown is the scenario's section of the results.
func (b *bench) watchMarkdown(spec watchSpec, rows []watchRow) string {
	var s strings.Builder
	fmt.Fprintf(&s, "## Watch start (%s files in %s folders)\n\n", count(spec.files), count(spec.dirs))
	s.WriteString("The agent's watcher alone, in a process of its own, from its exec to watching the whole root (New returned), and its memory then. ")
	s.WriteString("inotify: a watch per folder (kernel memory, about 1 KiB a watch, not in the RSS; bound by fs.inotify.max_user_watches); ")
	s.WriteString("fanotify: one mark on the file system, folders only listed once (office lock files at start).\n\n")
	s.WriteString("| tree watch | start → watching | RSS | peak RSS | note |\n|---|---|---|---|---|\n")
	for _, r := range rows {
		note := r.first
		if r.err != nil {
			note = oneLine(r.err)
		}
		fmt.Fprintf(&s, "| %s | %s | %s | %s | %s |\n", r.tree, dur(r.ready), size(r.rss), size(r.hwm), note)
	}
	return s.String()
}

// writeWatch runs the watch scenario, prints its section and writes it
// beside -out as watch-results.md (its own file: a run of the other
// scenarios keeps it).
func (b *bench) writeWatch(ctx context.Context) error {
	rows := b.watchScenario(ctx, b.o.watch)
	md := b.watchMarkdown(b.o.watch, rows)
	fmt.Println()
	fmt.Print(md)
	if b.o.out == "" {
		return nil
	}
	p := filepath.Join(filepath.Dir(b.o.out), "watch-results.md")
	head := fmt.Sprintf("# peerlink benchmark: watch start\n\nMeasured %s on %d CPUs (%s), %s, file system %s; load average %s.\n\n",
		time.Now().Format("2006-01-02"), b.facts.CPUs, b.facts.CPUModel, b.facts.Kernel, b.facts.FileSystem, loadAverage())
	old, _ := os.ReadFile(p)
	// Each size keeps its own section: the default run does not replace
	// a full-size one.
	sections := map[string]string{}
	var order []string
	for _, sec := range strings.Split(string(old), "\n## ")[1:] {
		title, _, _ := strings.Cut(sec, "\n")
		sections[title] = "## " + strings.TrimRight(sec, "\n") + "\n"
		order = append(order, title)
	}
	title, _, _ := strings.Cut(strings.TrimPrefix(md, "## "), "\n")
	if _, ok := sections[title]; !ok {
		order = append(order, title)
	}
	sections[title] = md
	out := head
	for _, t := range order {
		out += sections[t] + "\n"
	}
	b.logf("wrote %s", p)
	return os.WriteFile(p, []byte(out), 0o644)
}
