package agent

import (
	"slices"
	"strings"
	"sync"

	"github.com/peerlink/peerlink/wire"
)

// openSet is the files of an attached session whose write-open the live
// loop reported to the hub and whose close it has not seen. The loop
// changes it; the scan and the applies read it from their own goroutines
// (see writingNow), hence the lock.
type openSet struct {
	mu sync.Mutex
	m  map[string]bool
}

func newOpenSet() *openSet { return &openSet{m: map[string]bool{}} }

func (o *openSet) has(p string) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.m[p]
}

func (o *openSet) add(p string) {
	o.mu.Lock()
	o.m[p] = true
	o.mu.Unlock()
}

func (o *openSet) remove(p string) {
	o.mu.Lock()
	delete(o.m, p)
	o.mu.Unlock()
}

func (o *openSet) size() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.m)
}

// move follows a rename of from to to: the files at or below from are at
// their new paths now. It returns each one moved, old path then new.
func (o *openSet) move(from, to string) [][2]string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var moved [][2]string
	for p := range o.m {
		if np, ok := wire.Moved(p, from, to); ok {
			moved = append(moved, [2]string{p, np})
		}
	}
	for _, mv := range moved {
		delete(o.m, mv[0])
	}
	for _, mv := range moved {
		o.m[mv[1]] = true
	}
	slices.SortFunc(moved, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	return moved
}

// paths returns the set's files, sorted.
func (o *openSet) paths() []string {
	o.mu.Lock()
	out := make([]string, 0, len(o.m))
	for p := range o.m {
		out = append(out, p)
	}
	o.mu.Unlock()
	slices.Sort(out)
	return out
}

// under reports whether p is path or below it ("" is the whole root).
func under(p, path string) bool {
	return path == "" || p == path || strings.HasPrefix(p, path+"/")
}

// writingNow returns the files at or below path (the whole root for "")
// that a process on this host has open for writing now, sorted, as far as
// the agent can tell: the write-opens the live loop knows of, path itself
// if file, and with procs, in Fanotify mode, every writer /proc shows (the
// loop may not have handled the watcher's first events yet when the hub's
// first scan comes; a look costs a walk of /proc, so once per scan), each
// checked now (a lease attempt; a file that cannot be checked counts as
// open if its write-open was reported). Safe from any goroutine.
func (l *live) writingNow(path string, file, procs bool) []string {
	if l == nil || l.w == nil {
		return nil
	}
	var cands []string
	if file {
		cands = append(cands, path)
	}
	for _, p := range l.opened.paths() {
		if under(p, path) && !slices.Contains(cands, p) {
			cands = append(cands, p)
		}
	}
	if procs {
		for _, p := range l.w.Writers() {
			if under(p, path) && !slices.Contains(cands, p) {
				cands = append(cands, p)
			}
		}
	}
	if len(cands) == 0 {
		return nil
	}
	now := l.w.Writing(cands)
	var out []string
	for _, p := range cands {
		if open, known := now[p]; open || !known && l.opened.has(p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// refuseOpen is the error of an op that would replace or remove have,
// the copy at path (a file, or a folder holding files), while a writer on
// this host has it open for writing (wire.KindOpen); nil if none has.
func (l *live) refuseOpen(path string, have *wire.Entry) error {
	if have == nil {
		return nil
	}
	open := l.writingNow(path, have.Kind == wire.KindFile, false)
	if len(open) == 0 {
		return nil
	}
	msg := "open for writing on this host: not replaced, so that its writer's work is not lost"
	if open[0] != path {
		msg = "holds " + open[0] + ", open for writing on this host: not removed, so that its writer's work is not lost"
	}
	return &wire.Error{Kind: wire.KindOpen, Path: path, Msg: msg}
}

// guardReplace is the tree's last check before a fetched file replaces
// path (tree.GuardReplace): a lease attempt on that one file.
func (l *live) guardReplace(path string) error {
	if l == nil || l.w == nil {
		return nil
	}
	open, known := l.w.Writing([]string{path})[path]
	if open || !known && l.opened.has(path) {
		return &wire.Error{Kind: wire.KindOpen, Path: path, Msg: "open for writing on this host: not replaced, so that its writer's work is not lost"}
	}
	return nil
}
