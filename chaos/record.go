package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// History is what the harness did to the trees, in order: the versions it
// wrote and what it touched. It is what the loss check judges the end
// state against.
type History struct {
	events []event
}

type eventKind int

const (
	// version: Hash is now at Path on Host, put there by the harness.
	version eventKind = iota
	// touch: the harness changed or removed what was at Path on Host, or
	// under it, or tried to and may have done part of it.
	touch
	// empty: the harness removed everything under Host's root.
	empty
	// moved: the harness renamed Path to To on Host. A version written
	// at or under Path on another host right after, before the rename
	// reached it, is carried to its place under To there, and so
	// everywhere (make chaos, seed 8022).
	moved
)

type event struct {
	kind eventKind
	step int // the schedule's step that caused it
	host string
	path string
	to   string // moved: the new path
	hash string
}

// Version is content the harness wrote at a path, by step Step on Host.
type Version struct {
	Step int
	Host string
	Path string
	Hash string
	// Moved are the paths an earlier rename may have carried it to (see
	// the event kind moved).
	Moved []string
}

func (h *History) Version(step int, host, path, hash string) {
	h.events = append(h.events, event{kind: version, step: step, host: host, path: path, hash: hash})
}

func (h *History) Touch(step int, host, path string) {
	h.events = append(h.events, event{kind: touch, step: step, host: host, path: path})
}

func (h *History) Moved(step int, host, from, to string) {
	h.events = append(h.events, event{kind: moved, step: step, host: host, path: from, to: to})
}

func (h *History) Empty(step int, host string) {
	h.events = append(h.events, event{kind: empty, step: step, host: host})
}

// everywhereAtOne reports whether every host holds hash at one of paths,
// the same for all.
func everywhereAtOne(paths []string, hash string, hosts []string, o Observed) bool {
	for _, p := range paths {
		all := true
		for _, h := range hosts {
			if e, ok := o.Trees[h][p]; !ok || e.Dir || e.Hash != hash {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// related reports whether a and b are the same path or one holds the other.
func related(a, b string) bool {
	return a == b || strings.HasPrefix(a, b+"/") || strings.HasPrefix(b, a+"/")
}

// Required returns the versions no rule lets the product lose: each
// version the harness wrote that no later event superseded. Under the
// session's rule, last modified wins, and the harness's clock is every
// host's, so a later event is a later change:
//   - a later version, touch (write, truncate, delete, rename from or
//     onto, failed attempt at any of them) of the same path, of a folder
//     above it or of a path under it, on any host, supersedes it: the
//     later change wins wherever it was made, and a delete by a user may
//     lose data;
//   - emptying a host's root supersedes the versions written on that
//     host before: a version only that host held is gone by the harness's
//     own hand.
//
// What this does not require: that a version superseded by a later one
// is kept anywhere (target protection keeps the copy it replaces, but a
// version replaced on its own host by its user is gone).
func (h *History) Required() []Version {
	var out []Version
	for i, e := range h.events {
		if e.kind != version {
			continue
		}
		superseded := false
		for _, later := range h.events[i+1:] {
			if later.kind == empty && later.host == e.host ||
				later.kind == touch && related(later.path, e.path) ||
				later.kind == version && related(later.path, e.path) {
				superseded = true
				break
			}
		}
		if !superseded {
			out = append(out, Version{Step: e.step, Host: e.host, Path: e.path, Hash: e.hash, Moved: h.movedTo(i)})
		}
	}
	return out
}

// racingRename is how many steps before a version a rename on another
// host may still be on its way to the version's host.
const racingRename = 3

// movedTo returns the paths the renames made on other hosts shortly before
// event i may have carried its path to, in turn.
func (h *History) movedTo(i int) []string {
	v := h.events[i]
	paths := []string{v.path}
	for _, mv := range h.events[:i] {
		if mv.kind != moved || mv.host == v.host || v.step-mv.step > racingRename {
			continue
		}
		for _, p := range paths {
			if rest, ok := strings.CutPrefix(p, mv.path+"/"); ok && !slices.Contains(paths, mv.to+"/"+rest) {
				paths = append(paths, mv.to+"/"+rest)
			}
		}
	}
	return paths[1:]
}

// Observed is the end state the loss check reads: every host's tree, the
// contents kept in protected areas, and the File Conflict List.
type Observed struct {
	Trees     map[string]map[string]Entry // host -> path -> entry
	Protected map[string]bool             // content hashes under any host's .peerlink/protected
	Conflicts []string                    // paths of the File Conflict List
}

// Entry is one path of a host's tree.
type Entry struct {
	Dir   bool
	Mode  uint32 // permission bits
	Hash  string // content hash of a file
	Flags uint32 // inode flags (FS_IOC_GETFLAGS)
}

// conflicted reports whether p is in the File Conflict List or under a
// listed folder.
func (o Observed) conflicted(p string) bool {
	for _, c := range o.Conflicts {
		if p == c || strings.HasPrefix(p, c+"/") {
			return true
		}
	}
	return false
}

// Lost returns a line for each required version the end state lacks. A
// version is kept when every host holds it at its path, or at one path an
// earlier rename carried it to, or, for a path in the File Conflict List
// (whose copies stay where they are until resolved), when some host does;
// or when some host's protected area holds its content (the product kept
// it before replacing or deleting it).
func Lost(required []Version, o Observed) []string {
	var out []string
	hosts := make([]string, 0, len(o.Trees))
	for h := range o.Trees {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	for _, v := range required {
		if o.Protected[v.Hash] {
			continue
		}
		var have, lack []string
		for _, h := range hosts {
			if e, ok := o.Trees[h][v.Path]; ok && !e.Dir && e.Hash == v.Hash {
				have = append(have, h)
			} else {
				lack = append(lack, h)
			}
		}
		if len(lack) == 0 || o.conflicted(v.Path) && len(have) > 0 || everywhereAtOne(v.Moved, v.Hash, hosts, o) {
			continue
		}
		out = append(out, fmt.Sprintf("%s: version %.12s written by step %d on %s missing on %s (held by %v)",
			v.Path, v.Hash, v.Step, v.Host, strings.Join(lack, ","), have))
	}
	return out
}
