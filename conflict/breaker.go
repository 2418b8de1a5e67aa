package conflict

import "github.com/peerlink/peerlink/wire"

// The mass-delete breaker (issue 14): a root that turns up empty (an
// unmounted share, a mistyped mount) or a host that deleted most of a
// session's files at once must not delete them everywhere else. The hub
// counts a host's deletions against the session's tracked files and, when
// Guard trips, holds them until an operator approves or discards them.

// Guard is a session's mass-delete threshold: deletions by one host trip
// it when they reach Min files and exceed Percent of the files the index
// tracks. Percent 100 turns the guard off.
type Guard struct {
	Percent int
	Min     int
}

// Why a host's deletions were held.
const (
	HeldEmptyRoot  = "empty-root"
	HeldMassDelete = "mass-delete"
)

// Trip says whether a host's deletions of deleted files, of the total
// files the session tracks, trip g, and why: both the count (at least
// Min) and the share (more than Percent) must be crossed. A root that
// held files and turns up empty counts as a 100% delete, whatever share
// of the session it held, so its count alone decides: a host that
// deleted its only file still may.
func (g Guard) Trip(deleted, total int, empty bool) (string, bool) {
	if g.Percent >= 100 || deleted <= 0 || total <= 0 || deleted < g.Min {
		return "", false
	}
	if empty {
		return HeldEmptyRoot, true
	}
	if deleted*100 > g.Percent*total {
		return HeldMassDelete, true
	}
	return "", false
}

// ScanDeletes returns what host deleted according to its scan: every
// path of last that lists host and that scan lacks, with the version the
// index held, and how many of those are files. Paths in skip (left alone
// this time, or already held) are not counted.
func ScanDeletes(host string, scan []wire.Entry, last map[string]Record, skip func(string) bool) (map[string]wire.Entry, int) {
	have := make(map[string]bool, len(scan))
	for _, e := range scan {
		have[e.Path] = true
	}
	deleted := map[string]wire.Entry{}
	files := 0
	for p, rec := range last {
		if have[p] || !holds(rec, host) || (skip != nil && skip(p)) {
			continue
		}
		deleted[p] = rec.Entry
		if rec.Entry.Kind == wire.KindFile {
			files++
		}
	}
	return deleted, files
}

// TrackedFiles counts the files of last: the share a breaker measures
// against.
func TrackedFiles(last map[string]Record) int {
	n := 0
	for _, rec := range last {
		if rec.Entry.Kind == wire.KindFile {
			n++
		}
	}
	return n
}

// HeldFiles counts the files host held of last: an emptied root is one
// with none of them left (and none other either).
func HeldFiles(host string, last map[string]Record) int {
	n := 0
	for _, rec := range last {
		if rec.Entry.Kind == wire.KindFile && holds(rec, host) {
			n++
		}
	}
	return n
}

func holds(rec Record, host string) bool {
	for _, h := range rec.Hosts {
		if h == host {
			return true
		}
	}
	return false
}

// StreamDeletes is ScanDeletes for a scan as a Stream and the last index
// in tree order (Input.Sorted): one pass over both where the stream is in
// tree order, without a set of the scan's paths. Each read of a spooled
// scan decodes every entry anew (a million paths' strings of garbage), so
// the pass that merges is also the one that finds the order: a stream out
// of order is read again into a set. Against an empty index nothing was
// deleted, and the stream is not read.
func StreamDeletes(host string, scan Stream, last []Record, skip func(string) bool) (map[string]wire.Entry, int) {
	deleted := map[string]wire.Entry{}
	files := 0
	gone := func(rec *Record) {
		if !holds(*rec, host) || (skip != nil && skip(rec.Entry.Path)) {
			return
		}
		deleted[rec.Entry.Path] = rec.Entry
		if rec.Entry.Kind == wire.KindFile {
			files++
		}
	}
	if len(last) == 0 {
		return deleted, files
	}
	i := 0
	prev, first, sorted := "", true, true
	for e := range scan.Entries() {
		if !first && comparePaths(prev, e.Path) > 0 {
			sorted = false
			break
		}
		prev, first = e.Path, false
		for ; i < len(last) && comparePaths(last[i].Entry.Path, e.Path) < 0; i++ {
			gone(&last[i])
		}
		for ; i < len(last) && last[i].Entry.Path == e.Path; i++ {
		}
	}
	if !sorted {
		clear(deleted)
		files = 0
		have := map[string]bool{}
		for e := range scan.Entries() {
			have[e.Path] = true
		}
		for i := range last {
			if !have[last[i].Entry.Path] {
				gone(&last[i])
			}
		}
		return deleted, files
	}
	for ; i < len(last); i++ {
		gone(&last[i])
	}
	return deleted, files
}

// TrackedFilesIn is TrackedFiles of the last index as a slice.
func TrackedFilesIn(last []Record) int {
	n := 0
	for i := range last {
		if last[i].Entry.Kind == wire.KindFile {
			n++
		}
	}
	return n
}

// HeldFilesIn is HeldFiles of the last index as a slice.
func HeldFilesIn(host string, last []Record) int {
	n := 0
	for i := range last {
		if last[i].Entry.Kind == wire.KindFile && holds(last[i], host) {
			n++
		}
	}
	return n
}
