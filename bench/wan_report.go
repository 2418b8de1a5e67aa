//go:build linux

package main

import (
	"fmt"
	"strings"
)

// wanHeading starts the emulated WAN section of results.md.
const wanHeading = "## Over an emulated WAN\n"

// wanMarkdown is the emulated WAN section: the rows side by side with
// rsync, the live rows over the links, and the goals judged.
func (b *bench) wanMarkdown() string {
	r := b.wanRun
	f := b.facts
	var w strings.Builder
	w.WriteString(wanHeading + "\n")
	ran := b.ran(wanScenarios)
	fmt.Fprintf(&w, "Measured by `go run ./bench -only %s` (%s; large file %s, small files %s × %s, corpus %s) on %s (%d × %s, %s; file system: %s). Load average (1 min): %s at the start, %s at the end (%d CPUs, shared with other work).\n\n",
		strings.Join(ran, ","), r.shape, size(b.o.wan.big), count(b.o.wan.small.files), size(b.o.wan.small.size), size(b.o.wan.corpus),
		r.started.Format("2006-01-02 15:04 MST"), f.CPUs, orUnknown(f.CPUModel), orUnknown(f.Kernel), f.FileSystem, r.loadStart, r.loadEnd, f.CPUs)
	if r.err != nil {
		fmt.Fprintf(&w, "**failed**: %s\n", oneLine(r.err))
		return w.String()
	}
	fmt.Fprintf(&w, "Each agent reaches the broker (in the hub) through an emulated WAN link of its own, and the rsync client reaches an rsync daemon through one more, all of the same shape: %s. ", r.shape)
	if r.rsyncVersion != "" {
		fmt.Fprintf(&w, "rsync: %s.\n\n", strings.TrimSpace(r.rsyncVersion))
	} else {
		fmt.Fprintf(&w, "rsync is not installed (or -no-rsync): its columns are empty and the goals relative to it not judged.\n\n")
	}
	if len(r.rows) > 0 {
		fmt.Fprintf(&w, "| row | peerlink | peerlink on the wire (busier link: up / down) | rsync | rsync on the wire (its link: up / down; --stats sent / received) | goal | |\n")
		fmt.Fprintf(&w, "|---|---:|---:|---:|---:|---|---|\n")
		for _, row := range r.rows {
			fmt.Fprintf(&w, "| %s | %s | %s | %s | %s | %s | %s |\n", row.what, wanTook(row), wanPeerlinkBytes(row), wanRsyncTook(row), wanRsyncBytes(row), row.goal.text, row.verdict())
		}
		w.WriteString("\n")
	}
	if l := r.live; l != nil {
		if l.err != nil {
			fmt.Fprintf(&w, "Live rows over the links: **failed**: %s\n\n", oneLine(l.err))
		} else {
			fmt.Fprintf(&w, "| live, every agent behind its link | samples | p50 | p90 | p99 | max | goal | |\n")
			fmt.Fprintf(&w, "|---|---:|---:|---:|---:|---:|---|---|\n")
			for _, row := range l.rows {
				q := quantiles(row.samples)
				what := row.what
				if row.timedOut > 0 {
					what += fmt.Sprintf(" (%d timed out after %s, counted as that)", row.timedOut, liveSampleTimeout)
				} else if row.err != nil {
					what += " — " + oneLine(row.err)
				}
				goal, verdict := "–", ""
				if row.goal > 0 {
					goal, verdict = "p99 ≤ "+ms(row.goal), liveVerdict(row, q)
				}
				fmt.Fprintf(&w, "| %s | %d | %s | %s | %s | %s | %s | %s |\n", what, len(row.samples), ms(q.p50), ms(q.p90), ms(q.p99), ms(q.max), goal, verdict)
			}
			w.WriteString("\n")
		}
	}
	fmt.Fprintf(&w, "How to read it:\n\n")
	fmt.Fprintf(&w, "- The links are Toxiproxy run inside the bench's process (`testkit/wanlink`): half the round trip delays each direction, then each direction is paced at the rate, each TCP connection on its own. This kernel has no netem, so the link lives in user space; it adds no loss and buffers what a sender writes ahead of the pacing, as a deep router queue would.\n")
	fmt.Fprintf(&w, "- *On the wire* is what entered the link in both directions, payload bytes as TCP carries them (headers not counted), from the link's own counters: the same counters for peerlink and rsync. *Up* is from the agent (from rsync's client), *down* towards it. peerlink's traffic goes from site-a's agent to the broker and from the broker to site-b's agent, so each agent's link carries the content: the busier of the two is shown and judged, as the office link that would carry it. rsync goes point to point through its one link; its `--stats` counts are its own protocol bytes, a cross-check of the link's counters.\n")
	fmt.Fprintf(&w, "- An edit of the large file is timed from just before the write on site-a (for the insert, the rename of the editor's temp file over the file) until site-b's copy is a new file (inode) of the new size with the new bytes at the edit's offset; its bytes on the wire are counted until site-b's lock is released. rsync pushes the same change onto its old copy of the file (rsync's delta algorithm, `rsync -a` to the daemon, which reads the basis file and sends its block checksums). Both copies are then compared with the source, untimed.\n")
	fmt.Fprintf(&w, "- An initial sync is `session start --wait` of a session whose site-b is empty, as in the loopback table; rsync copies the same tree to an empty folder of its module.\n")
	fmt.Fprintf(&w, "- The live rows are the live latency section's lock and change rows with every agent behind its link; the goals are the issue's, in round trips of one link: the lock one round trip + 10 ms, the change two round trips + 60 ms.\n")
	w.WriteString(wanLoadNote + "\n")
	return w.String()
}

const wanLoadNote = "- The load average is the machine's at the start and the end of the section: a figure of 10 or more on 2 CPUs means other work took most of the CPU, and then the live rows' tails (p90, p99) measure the scheduler at least as much as the link; the bytes on the wire do not depend on it.\n"

func (r wanRow) verdict() string {
	if r.err != nil || r.took <= 0 {
		return "**not judged**"
	}
	ok := true
	if r.goal.maxBytes > 0 {
		ok = ok && r.up+r.down <= r.goal.maxBytes
	}
	if r.goal.timeVsRsync || r.goal.bytesVsRsync {
		if r.rsync == nil {
			return "**not judged** (no rsync)"
		}
		if r.goal.timeVsRsync {
			ok = ok && r.took <= r.rsync.took
		}
		if r.goal.bytesVsRsync {
			ok = ok && r.up+r.down <= r.rsync.up+r.rsync.down
		}
	}
	if ok {
		return "**met**"
	}
	return "**not met**"
}

func wanTook(r wanRow) string {
	if r.err != nil && r.took <= 0 {
		return "failed: " + oneLine(r.err)
	}
	s := dur(r.took)
	if r.err != nil {
		s += " — " + oneLine(r.err)
	}
	return s
}

func wanPeerlinkBytes(r wanRow) string {
	if r.took <= 0 {
		return "–"
	}
	return fmt.Sprintf("%s (%s: %s / %s)", wireSize(r.up+r.down), r.link, wireSize(r.up), wireSize(r.down))
}

func wanRsyncTook(r wanRow) string {
	if r.rsync == nil {
		return "–"
	}
	return fmt.Sprintf("%s (%s)", dur(r.rsync.took), r.rsWhat)
}

func wanRsyncBytes(r wanRow) string {
	if r.rsync == nil {
		return "–"
	}
	x := r.rsync
	return fmt.Sprintf("%s (%s / %s; %s / %s)", wireSize(x.up+x.down), wireSize(x.up), wireSize(x.down), wireSize(x.statSent), wireSize(x.statRecvd))
}

// wireSize prints a byte count on the wire in decimal units, as link
// rates and the goals are.
func wireSize(n int64) string {
	switch {
	case n < 0:
		return "?"
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1e6:
		return fmt.Sprintf("%.1f KB", float64(n)/1e3)
	case n < 1e9:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	default:
		return fmt.Sprintf("%.2f GB", float64(n)/1e9)
	}
}
