//go:build linux

package main

import (
	"fmt"
	"strings"
	"time"
)

// Targets of the issue that asked for this bench.
const (
	targetCpRatio   = 2.0              // initial sync of many small files, times cp -r
	targetRestart   = 2 * time.Second  // no-change restart of 100,000 files
	targetAgentRSS  = 150 << 20        // bytes, whatever the file sizes
	smallFileCutoff = int64(100 << 10) // files this small or smaller are "small"
)

func (b *bench) markdown() string {
	var w strings.Builder
	f := b.facts
	fmt.Fprintf(&w, "# peerlink benchmark\n\n")
	fmt.Fprintf(&w, "Measured by `make bench` (`go run ./bench -bin bin/peerlink -out bench/results.md`) on %s; every number below comes from that one run.\n\n",
		b.started.Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&w, "- CPU: %d × %s\n", f.CPUs, orUnknown(f.CPUModel))
	fmt.Fprintf(&w, "- memory: %s\n", orUnknown(f.Memory))
	fmt.Fprintf(&w, "- system: %s\n", orUnknown(f.Kernel))
	fmt.Fprintf(&w, "- Go: %s\n", f.GoVersion)
	fmt.Fprintf(&w, "- file system (sources, copies and peerlink roots alike): %s\n\n", f.FileSystem)

	fmt.Fprintf(&w, "| scenario | peerlink | hub's own time | cp -r | peerlink ÷ cp -r | cp -r + sync | rsync -a | peerlink ÷ rsync | hub peak RSS | agent peak RSS (source / target) |\n")
	fmt.Fprintf(&w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range b.rows {
		if r.err != nil && r.peerlink == 0 {
			fmt.Fprintf(&w, "| %s | failed: %s | | %s | | %s | %s | | | |\n", r.scenario, oneLine(r.err), dur(r.cp), dur(r.cpSync), b.rsyncCell(r))
			continue
		}
		pl := dur(r.peerlink)
		if r.spread != "" {
			pl += fmt.Sprintf(" (%s)", r.spread)
		}
		if r.err != nil {
			pl += " — " + oneLine(r.err)
		}
		if r.note != "" {
			pl += " — " + r.note
		}
		cp := dur(r.cp)
		if r.cpWhy != "" {
			cp += " (" + r.cpWhy + ")"
		}
		agents := make([]string, len(r.agents))
		for i, a := range r.agents {
			agents[i] = size(r.rss.agents[a])
		}
		fmt.Fprintf(&w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.scenario, pl, dur(r.hubTook), cp, ratio(r.peerlink, r.cp),
			dur(r.cpSync), b.rsyncCell(r), ratio(r.peerlink, r.rsync), size(r.rss.hub), strings.Join(agents, " / "))
	}
	fmt.Fprintf(&w, "\nLoad average (1 min) as each scenario started: %s (%d CPUs; other work on the machine shares them and the disk).\n\n",
		strings.Join(b.load, ", "), f.CPUs)
	fmt.Fprintf(&w, "How to read it:\n\n")
	fmt.Fprintf(&w, "- *peerlink* is the wall time of `peerlink session start NAME --wait` (for the restart, of `session stop` then `session start --wait`; the median of %d runs, min–max in brackets), with a hub and two agents running as separate processes on 127.0.0.1. It includes scanning and hashing the source, the merge, the transfer through the broker, the hash check of every file and making every file durable (fsync/syncfs) before the hub records it. `--wait` polls the hub, so the wall time can exceed the hub's own time (`Synced - Started` in `session status --json`) by up to one polling interval.\n", max(b.o.restarts, 1))
	fmt.Fprintf(&w, "- *cp -r* and *rsync -a* copy the same source tree to a fresh destination on the same file system, after a `sync`; neither makes its copy durable, so *cp -r + sync* adds the `sync(2)` that does. The page cache is not dropped: every tool reads a source that is in memory. Nothing is deleted until the run ends: on ext4 without a journal, creating files right after many were removed costs several times more (the allocator checks each recently freed inode), which would penalise whichever tool comes next.\n")
	fmt.Fprintf(&w, "- The machine may be shared (see the load averages): timings of the same work varied by 2-5x between runs, for cp -r as much as for peerlink; the ratios of one run are the comparison that holds.\n")
	fmt.Fprintf(&w, "- For the restart, *cp -r* is the full copy of the same tree and *rsync -a* is a second rsync onto an identical copy (nothing to transfer).\n")
	fmt.Fprintf(&w, "- Peak RSS is each process's `ru_maxrss` after it exited; every scenario starts fresh processes. The medium scenario (many large files at once) is there for the agents' memory: the issue asks for under 150 MiB whatever the file sizes.\n")
	fmt.Fprintf(&w, "- Files are pseudo-random, so incompressible: compression (zstd) does not flatter peerlink, and costs it little (zstd gives up on incompressible data at about 3 GB/s).\n\n")

	fmt.Fprintf(&w, "## Targets\n\n")
	for _, t := range b.targets() {
		fmt.Fprintf(&w, "- %s\n", t)
	}
	return w.String()
}

func (b *bench) rsyncCell(r row) string {
	if b.o.rsyncPath == "" {
		return "not installed"
	}
	s := dur(r.rsync)
	if r.rsyncWhy != "" && r.rsync > 0 {
		s += " (" + r.rsyncWhy + ")"
	}
	return s
}

// targets judges the targets against the rows measured.
func (b *bench) targets() []string {
	var out []string
	verdict := func(ok bool) string {
		if ok {
			return "**met**"
		}
		return "**not met**"
	}
	var maxAgent int64
	var agentRows int
	for _, r := range b.rows {
		if r.err != nil || r.peerlink == 0 {
			continue
		}
		for _, v := range r.rss.agents {
			maxAgent = max(maxAgent, v)
			agentRows++
		}
		switch {
		case r.note != "" && strings.HasPrefix(r.scenario, "initial") && r.files > 1 && r.bytes/int64(r.files) <= smallFileCutoff:
			out = append(out, fmt.Sprintf("%s: **not judged**: %s (%s of cp -r, %s of rsync -a)", r.scenario, r.note, ratio(r.peerlink, r.cp), ratio(r.peerlink, r.rsync)))
		case strings.HasPrefix(r.scenario, "initial") && r.files > 1 && r.bytes/int64(r.files) <= smallFileCutoff:
			cpOK := float64(r.peerlink) <= targetCpRatio*float64(r.cp)
			line := fmt.Sprintf("%s within %.0fx of cp -r: %s (%s)", r.scenario, targetCpRatio, verdict(cpOK), ratio(r.peerlink, r.cp))
			if r.rsync > 0 {
				line += fmt.Sprintf("; at least as fast as rsync -a: %s (%s)", verdict(r.peerlink <= r.rsync), ratio(r.peerlink, r.rsync))
			} else {
				line += "; rsync -a not measured"
			}
			out = append(out, line)
		case strings.Contains(r.scenario, "stop + start"):
			out = append(out, fmt.Sprintf("no-change restart of %s files under %s: %s (%s wall, %s by the hub)", count(r.files), targetRestart,
				verdict(r.peerlink < targetRestart), dur(r.peerlink), dur(r.hubTook)))
		}
	}
	if agentRows > 0 {
		out = append(out, fmt.Sprintf("agent peak RSS under %s in every scenario: %s (largest %s)", size(targetAgentRSS),
			verdict(maxAgent < targetAgentRSS), size(maxAgent)))
	}
	return out
}

func dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < 10*time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
}

func ratio(a, b time.Duration) string {
	if a <= 0 || b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f×", float64(a)/float64(b))
}

// size prints a byte count in binary units.
func size(n int64) string {
	const unit = 1024
	if n <= 0 {
		return "–"
	}
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d %ciB", int64(v), "KMGTPE"[exp])
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[exp])
}

// count prints n with thousands separators.
func count(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func oneLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return strings.ReplaceAll(s, "|", "\\|")
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// liveHeading starts the live latency section of results.md.
const liveHeading = "## Live latency\n"

// liveMarkdown is the live latency section: the run's rows, and the
// issue's goals judged.
func (b *bench) liveMarkdown() string {
	r := b.liveRun
	f := b.facts
	var w strings.Builder
	w.WriteString(liveHeading + "\n")
	ran := b.ran(liveScenarios)
	fmt.Fprintf(&w, "Measured by `go run ./bench -only %s` on %s (%d × %s, %s; file system: %s). Load average (1 min): %s at the start, %s at the end (%d CPUs, shared with other work).\n\n",
		strings.Join(ran, ","), r.started.Format("2006-01-02 15:04 MST"), f.CPUs, orUnknown(f.CPUModel), orUnknown(f.Kernel), f.FileSystem, r.loadStart, r.loadEnd, f.CPUs)
	if r.err != nil {
		fmt.Fprintf(&w, "**failed**: %s\n", oneLine(r.err))
		return w.String()
	}
	fmt.Fprintf(&w, "A session of three hosts is running: a hub (with its broker) and three agents, site-a, site-b and site-c, as separate processes on 127.0.0.1. The bench acts as a user on site-a (its pid is not an agent's) and times what the other two hosts show, from just before its open(2) until the condition holds on *both* targets. ")
	if r.imm {
		fmt.Fprintf(&w, "The agents run as root, so a lock is the removed write bits *and* the immutable flag: a copy counts as locked once both are there.\n\n")
	} else {
		fmt.Fprintf(&w, "%s.\n\n", strings.TrimSuffix(r.immWhy, "."))
	}
	fmt.Fprintf(&w, "| what is measured | samples | p50 | p90 | p99 | max | goal | |\n")
	fmt.Fprintf(&w, "|---|---:|---:|---:|---:|---:|---|---|\n")
	for _, row := range r.rows {
		q := quantiles(row.samples)
		what := row.what
		if row.timedOut > 0 {
			what += fmt.Sprintf(" (%d timed out after %s, counted as that)", row.timedOut, liveSampleTimeout)
		} else if row.err != nil {
			what += " — " + oneLine(row.err)
		}
		goal, verdict := "–", ""
		if row.goal > 0 {
			goal = "p99 ≤ " + ms(row.goal)
			verdict = liveVerdict(row, q)
		}
		fmt.Fprintf(&w, "| %s | %d | %s | %s | %s | %s | %s | %s |\n", what, len(row.samples), ms(q.p50), ms(q.p90), ms(q.p99), ms(q.max), goal, verdict)
	}
	fmt.Fprintf(&w, "\nHow to read it:\n\n")
	fmt.Fprintf(&w, "- Samples run one after another, each on a file of its own; the next starts once the last one's target locks are released and a pause of %d ms has passed, so that each measures one operation on a quiet session. The back-to-back row shows what the pause leaves out: an open that comes right after a release waits for the hub's live loop to finish with that release (the session's event log is written on its own goroutine, so no bbolt commit is in the way). Percentiles are nearest-rank: p99 of 200 samples is the 198th fastest.\n", b.o.live.gap.Milliseconds())
	fmt.Fprintf(&w, "- The targets are watched with inotify on their folders, so a change of mode or a new version renamed in is seen at once; setting the immutable flag sends no inotify event, so the copies are also checked every %d ms, and a lock's last step is seen at most that late. The checks use statx (mode, size, the immutable attribute, which the bench checked against FS_IOC_GETFLAGS) and read a copy only when a new version of the right size is there: opening the copies would give every agent's fanotify mark work to do.\n", probeRecheck.Milliseconds())
	fmt.Fprintf(&w, "- A small change is seen on site-a as a write-open closed at once. The agent leaves a file that was written and closed alone for a moment (its settle time) before it reports it, so that a file still being copied in is sent once, whole; then the hub orders the transfer, each target fetches the content through the broker, writes it to a temp file, fsyncs it, renames it in place and fsyncs the folder. The new content counts as there once both targets have renamed it in. A lock is a bbolt commit of its journal record on each target, then the chmod and the flag; a release the same in reverse.\n\n")
	return w.String()
}

func liveVerdict(r liveRow, q quants) string {
	if len(r.samples) == 0 {
		return "**not judged**"
	}
	if q.p99 <= r.goal && r.timedOut == 0 {
		return "**met**"
	}
	return "**not met**"
}

// mergeResults returns results.md as old was, with what this run measured
// in place of what it held: the initial-sync part (everything before the
// live, wan and scale sections) if sync is not empty, each of the live,
// wan and scale sections if it is not.
func mergeResults(old, sync, live, wan, scale string) string {
	oldSync, oldLive, oldWan, oldScale := splitResults(old)
	if sync == "" {
		sync = oldSync
		if strings.TrimSpace(sync) == "" {
			sync = "# peerlink benchmark\n\n"
		}
		// The table was measured by another run than the sections after it.
		sync = strings.Replace(sync, "every number below comes from that one run", "every number of the table below comes from that one run (the live latency section says when it was measured)", 1)
	}
	if live == "" {
		live = oldLive
	}
	if wan == "" {
		wan = oldWan
	}
	if scale == "" {
		scale = oldScale
	}
	out := sync
	for _, sec := range []string{live, wan, scale} {
		if sec == "" {
			continue
		}
		if !strings.HasSuffix(out, "\n\n") {
			out = strings.TrimRight(out, "\n") + "\n\n"
		}
		out += sec
	}
	return out
}

// splitResults cuts results.md at its sections' headings: the initial-sync
// part before the first of them, the live, wan and scale sections (each
// "" if absent), in whatever order the file has them.
func splitResults(old string) (sync, live, wan, scale string) {
	at := func(heading string) int {
		if strings.HasPrefix(old, heading) {
			return 0
		}
		if i := strings.Index(old, "\n"+heading); i >= 0 {
			return i + 1
		}
		return -1
	}
	starts := []int{at(liveHeading), at(wanHeading), at(scaleHeading)}
	section := func(i int) string {
		if i < 0 {
			return ""
		}
		end := len(old)
		for _, j := range starts {
			if j > i && j < end {
				end = j
			}
		}
		return old[i:end]
	}
	first := len(old)
	for _, i := range starts {
		if i >= 0 && i < first {
			first = i
		}
	}
	return old[:first], section(starts[0]), section(starts[1]), section(starts[2])
}

// ran returns those of names the run measured (-only), in order.
func (b *bench) ran(names []string) []string {
	var out []string
	for _, n := range names {
		if b.o.only[n] {
			out = append(out, n)
		}
	}
	return out
}
