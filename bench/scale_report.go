//go:build linux

package main

import (
	"fmt"
	"os"
	"strings"
)

// scaleMarkdown is the scale section of results.md: the rows, and the
// issue's goals judged.
func (b *bench) scaleMarkdown(rows []scaleRow) string {
	f := b.facts
	var w strings.Builder
	w.WriteString(scaleHeading + "\n")
	fmt.Fprintf(&w, "Measured by `go run ./bench -bin bin/peerlink -only scale -scale-paths %s` on %s (%d × %s, %s RAM, %s). A real hub process (with its broker, `--insecure-plain` on 127.0.0.1) and three synthetic agents (testkit/synthagent) in the bench's process, whose scans are generated in memory: the same tree on every host, so that the merge plans no transfer.\n\n",
		b.scalePathsFlag(), b.started.Format("2006-01-02 15:04 MST"), f.CPUs, orUnknown(f.CPUModel), orUnknown(f.Memory), orUnknown(f.Kernel))
	if env := goEnv(); env != "" {
		fmt.Fprintf(&w, "The hub ran with %s in its environment.\n\n", env)
	}
	fmt.Fprintf(&w, "| paths × hosts | index records | start --wait (hub's own) | merge | restart: start --wait | restart: merge | hub VmHWM idle / started / peak | hub bytes per path | live lock p50 / p99 / max (samples) | load |\n")
	fmt.Fprintf(&w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, r := range rows {
		q := quantiles(r.lock)
		lock := "–"
		if len(r.lock) > 0 {
			lock = fmt.Sprintf("%s / %s / %s (%d)", ms(q.p50), ms(q.p99), ms(q.max), len(r.lock))
			if r.lockTimeout > 0 {
				lock += fmt.Sprintf(", %d timed out", r.lockTimeout)
			}
		}
		first := fmt.Sprintf("%s (%s)", dur(r.firstWall), dur(r.firstHub))
		if r.err != nil {
			first += " — **failed**: " + oneLine(r.err)
		}
		if r.stoppedAt != "" {
			first += " (" + r.stoppedAt + ")"
		}
		fmt.Fprintf(&w, "| %s × %d | %s | %s | %s | %s | %s | %s / %s / %s | %s | %s | %s |\n",
			count(r.paths), len(scaleHosts), count(int(r.entries)), first, dur(r.firstMerge), dur(r.againWall), dur(r.againMerge),
			size(r.hwmIdle), size(r.hwmStarted), size(r.hubPeak), perPath(r), lock, r.load)
	}
	fmt.Fprintf(&w, "\nHow to read it:\n\n")
	fmt.Fprintf(&w, "- The tree: N files of 1 B to 1 MiB with random hashes, 100 to a folder and 100 folders to a group (`projects/group-00042/folder-0004217/document-017.dat`, %d bytes a path), so N × 1.0101 records with the folders.\n", scalePathLen)
	fmt.Fprintf(&w, "- *merge* is from the last host's scan Done part sent to the first JournalClear the hub sent: the scans' last parts still in the broker's buffers, the merge (conflict.Resolve), the index written to bbolt, an empty transfer phase, the hosts' held counts (a read of the whole index), then the JournalClear. The first start merges against an empty index; the restart (`session stop`, `session start --wait`) against the index of N paths the first one stored, as every later start does.\n")
	fmt.Fprintf(&w, "- *start --wait* includes the attach, the clock probes, the scans (each synthetic agent encodes its ScanParts as JSON in the bench's process, on the same %d CPUs as the hub), the merge and the CLI's polling; the hub's own time is its `Synced - Started`.\n", f.CPUs)
	fmt.Fprintf(&w, "- Hub memory: VmHWM (peak resident set) from /proc with the agents connected and no session, then once the first start is over; the peak is `ru_maxrss` at exit, after the restart. *Bytes per path* is (peak − idle) ÷ N: what the start-up's in-memory merge costs a path at its peak, the scans of three hosts included, not what a running hub keeps. Where it goes, structure by structure (the live heap, without the collector's headroom): `go test -run '^$' -bench StartupMergeMemory -benchtime 1x ./roles/hub`.\n")
	fmt.Fprintf(&w, "- *live lock*: while the session runs on that index, site-a reports write-opens (wire.Opened, as an agent's watcher does), one at a time, each on a file of its own spread over the tree; a sample is the time from the Opened sent until both site-b and site-c received their Lock (synthetic agents lock nothing: this is the hub's and the broker's part of a lock). A close without modification releases them before the next, after a %d ms pause.\n\n", b.o.live.gap.Milliseconds())
	fmt.Fprintf(&w, "Goals (issue 13, point 5):\n\n")
	for _, g := range scaleGoals(rows) {
		fmt.Fprintf(&w, "- %s\n", g)
	}
	w.WriteString("\n")
	return w.String()
}

// goEnv names the Go runtime's settings the hub inherited from the
// bench's environment (GOGC, GOMEMLIMIT), "" for none.
func goEnv() string {
	var out []string
	for _, k := range []string{"GOGC", "GOMEMLIMIT"} {
		if v := os.Getenv(k); v != "" {
			out = append(out, fmt.Sprintf("`%s=%s`", k, v))
		}
	}
	return strings.Join(out, " and ")
}

// scalePathLen is the length of the synthetic tree's file paths.
const scalePathLen = len("projects/group-00042/folder-0004217/document-017.dat")

func perPath(r scaleRow) string {
	if r.hubPeak <= 0 || r.paths == 0 || r.err != nil {
		return "–"
	}
	return fmt.Sprintf("%d B", (r.hubPeak-r.hwmIdle)/int64(r.paths))
}

func (b *bench) scalePathsFlag() string {
	s := make([]string, len(b.o.scale.paths))
	for i, n := range b.o.scale.paths {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ",")
}

// scaleGoals judges the goals on the rows measured.
func scaleGoals(rows []scaleRow) []string {
	verdict := func(ok bool) string {
		if ok {
			return "**met**"
		}
		return "**not met**"
	}
	var out []string
	for _, r := range rows {
		switch {
		case r.paths == scaleGoalPaths && r.err == nil:
			merge := max(r.firstMerge, r.againMerge)
			out = append(out, fmt.Sprintf("1,000,000 paths × 3 hosts merged in ≤ %s: %s (%s first start, %s restart)",
				dur(goalScaleMerge), verdict(merge <= goalScaleMerge), dur(r.firstMerge), dur(r.againMerge)))
			out = append(out, fmt.Sprintf("hub RSS ≤ %s at 1,000,000 paths: %s (peak %s)", size(goalScaleRSS), verdict(r.hubPeak <= goalScaleRSS), size(r.hubPeak)))
			out = append(out, fmt.Sprintf("≤ %d bytes of hub memory per path: %s (%s at the start-up's peak)", goalScalePerPath,
				verdict(r.hubPeak > 0 && (r.hubPeak-r.hwmIdle)/int64(r.paths) <= goalScalePerPath), perPath(r)))
		case r.paths == 10*scaleGoalPaths:
			out = append(out, fmt.Sprintf("10,000,000 paths without running out of memory: %s (peak %s)", verdict(r.err == nil), size(r.hubPeak)))
		}
	}
	if len(out) == 0 {
		out = append(out, "not judged: the goals are for 1,000,000 and 10,000,000 paths")
	}
	return out
}
