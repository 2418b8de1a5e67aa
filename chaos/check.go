//go:build linux

package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"
)

// Inode flags a released copy must not keep (FS_IOC_GETFLAGS).
const (
	flagImmutable  = 0x10 // FS_IMMUTABLE_FL
	flagAppendOnly = 0x20 // FS_APPEND_FL
)

// peerlinkDir is peerlink's own folder at a root, which holds the
// protected area and is never synchronised.
const peerlinkDir = ".peerlink"

// snapshot reads a host's tree: every path but peerlink's own folder, and
// the hashes of the contents kept in its protected area.
func snapshot(root string, protected map[string]bool) (map[string]Entry, error) {
	tree := map[string]Entry{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if rel == "." {
			return nil
		}
		if rel == peerlinkDir {
			return protectedHashes(p, protected)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		e := Entry{Dir: d.IsDir(), Mode: uint32(fi.Mode().Perm())}
		if !e.Dir {
			if e.Hash, err = hashFile(p); err != nil {
				return err
			}
		}
		e.Flags = inodeFlags(p)
		tree[rel] = e
		return nil
	})
	return tree, err
}

// protectedHashes adds the hash of every file under dir/protected, and
// skips dir.
func protectedHashes(dir string, out map[string]bool) error {
	_ = filepath.WalkDir(filepath.Join(dir, "protected"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if sum, err := hashFile(p); err == nil {
				out[sum] = true
			}
		}
		return nil
	})
	return fs.SkipDir
}

func inodeFlags(p string) uint32 {
	f, err := os.Open(p)
	if err != nil {
		return 0
	}
	defer f.Close()
	fl, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		return 0
	}
	return fl
}

// observe reads every host's tree and the File Conflict List.
func (r *runner) observe(ctx context.Context) (Observed, error) {
	o := Observed{Trees: map[string]map[string]Entry{}, Protected: map[string]bool{}}
	for _, h := range r.c.hosts {
		t, err := snapshot(r.c.root(h), o.Protected)
		if err != nil {
			return o, fmt.Errorf("read %s's tree: %w", h, err)
		}
		o.Trees[h] = t
	}
	cs, err := r.c.client().Conflicts(ctx, session)
	if err != nil {
		return o, fmt.Errorf("read the File Conflict List: %w", err)
	}
	for _, c := range cs {
		o.Conflicts = append(o.Conflicts, c.Path)
	}
	sort.Strings(o.Conflicts)
	return o, nil
}

// differing returns a line for each path, outside the File Conflict List,
// that is not the same on every host: missing on some, or another kind,
// mode or content.
func differing(o Observed, hosts []string) []string {
	paths := map[string]bool{}
	for _, t := range o.Trees {
		for p := range t {
			paths[p] = true
		}
	}
	var out []string
	for _, p := range sortedKeys(paths) {
		// What no session takes (owner files, temp files) is the
		// leftovers check's.
		if o.conflicted(p) || excluded.Excluded(p, false) {
			continue
		}
		var desc []string
		same := true
		first, firstOK := o.Trees[hosts[0]][p]
		for _, h := range hosts {
			e, ok := o.Trees[h][p]
			desc = append(desc, h+"="+e.describe(ok))
			if ok != firstOK || ok && (e.Dir != first.Dir || e.Hash != first.Hash || e.Mode != first.Mode) {
				same = false
			}
		}
		if !same {
			out = append(out, fmt.Sprintf("%s: %s", p, strings.Join(desc, " ")))
		}
	}
	return out
}

func (e Entry) describe(ok bool) string {
	switch {
	case !ok:
		return "absent"
	case e.Dir:
		return fmt.Sprintf("dir(%04o)", e.Mode)
	default:
		return fmt.Sprintf("file(%04o,%.12s)", e.Mode, e.Hash)
	}
}

// leftovers returns a line for each temp file, application lock file, and
// copy left read-only, immutable or append-only. Every mode the harness
// sets keeps the owner's write bit, so a copy without it is a lock not
// undone.
func leftovers(o Observed, hosts []string) []string {
	var out []string
	for _, h := range hosts {
		t := o.Trees[h]
		for _, p := range sortedKeys(t) {
			e, base := t[p], p[strings.LastIndex(p, "/")+1:]
			switch {
			case strings.HasPrefix(base, ".peerlink-tmp-"):
				out = append(out, fmt.Sprintf("%s on %s: temp file left", p, h))
			case strings.HasPrefix(base, "~$") || strings.HasPrefix(base, ".~lock."):
				out = append(out, fmt.Sprintf("%s on %s: application lock file left", p, h))
			case strings.HasPrefix(base, ".goutputstream-"):
				out = append(out, fmt.Sprintf("%s on %s: editor temp file left", p, h))
			}
			if !e.Dir && e.Mode&0o200 == 0 {
				out = append(out, fmt.Sprintf("%s on %s: left read-only (%04o)", p, h, e.Mode))
			}
			if e.Flags&(flagImmutable|flagAppendOnly) != 0 {
				out = append(out, fmt.Sprintf("%s on %s: left with inode flags %#x", p, h, e.Flags))
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
