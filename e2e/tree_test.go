//go:build linux

package e2e

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// node is what a test compares of one path.
type node struct {
	Dir   bool
	Size  int64
	Mode  fs.FileMode
	Mtime int64 // nanoseconds; files only
	Hash  string
}

func (n node) String() string {
	if n.Dir {
		return fmt.Sprintf("dir %o", n.Mode)
	}
	return fmt.Sprintf("file %d bytes %o mtime %d sha %.12s", n.Size, n.Mode, n.Mtime, n.Hash)
}

// snapshot reads a tree into path -> node, hashing every file.
func snapshot(t testing.TB, root string) map[string]node {
	t.Helper()
	out := map[string]node{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if rel == ".peerlink" && d.IsDir() {
			// peerlink's own area of each root (kept copies), which the
			// default filter keeps out of every session.
			return filepath.SkipDir
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			out[rel] = node{Dir: true, Mode: info.Mode().Perm()}
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		out[rel] = node{Size: info.Size(), Mode: info.Mode().Perm(), Mtime: info.ModTime().UnixNano(), Hash: fmt.Sprintf("%x", h.Sum(nil))}
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot %s: %v", root, err)
	}
	return out
}

// diffTrees describes how two snapshots differ, or "" if they are equal.
func diffTrees(a, b map[string]node) string {
	var diffs []string
	for p, na := range a {
		nb, ok := b[p]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: only in first (%s)", p, na))
		case na != nb:
			diffs = append(diffs, fmt.Sprintf("%s: %s != %s", p, na, nb))
		}
	}
	for p, nb := range b {
		if _, ok := a[p]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: only in second (%s)", p, nb))
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 20 {
		diffs = append(diffs[:20], fmt.Sprintf("... and %d more", len(diffs)-20))
	}
	return strings.Join(diffs, "\n")
}

// sameTrees fails the test unless every root holds the same tree.
func sameTrees(t testing.TB, roots ...string) map[string]node {
	t.Helper()
	first := snapshot(t, roots[0])
	for _, r := range roots[1:] {
		if d := diffTrees(first, snapshot(t, r)); d != "" {
			t.Fatalf("%s and %s differ:\n%s", roots[0], r, d)
		}
	}
	return first
}

// writeFile writes content at rel below root with the given mtime.
func writeFile(t testing.TB, root, rel, content string, mtime time.Time) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t testing.TB, root, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tempFiles lists peerlink temp files left below root.
func tempFiles(t testing.TB, root string) []string {
	t.Helper()
	var found []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".peerlink-tmp-") {
			found = append(found, p)
		}
		return nil
	})
	return found
}

// writeLarge streams size bytes of cheap pseudo-random data to rel below
// root and returns their sha256 in hex. The data is a 1 MiB random block
// (from seed) repeated with the block's number stamped at its start, so no
// two blocks are alike and nothing compresses; memory stays at one block.
func writeLarge(t testing.TB, root, rel string, size int64, seed uint64, mtime time.Time) string {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	block := make([]byte, 1<<20)
	var key [32]byte
	for i := range 8 {
		key[i] = byte(seed >> (8 * i))
	}
	rand.NewChaCha8(key).Read(block)
	h := sha256.New()
	w := io.MultiWriter(f, h)
	for off, n := int64(0), uint64(0); off < size; n++ {
		for i := range 8 {
			block[i] = byte(n >> (8 * i))
		}
		part := block[:min(int64(len(block)), size-off)]
		if _, err := w.Write(part); err != nil {
			t.Fatal(err)
		}
		off += int64(len(part))
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// hashFile returns the sha256 of a file in hex, read as a stream.
func hashFile(t testing.TB, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// mkdirMode makes the folder rel below root (and its parents) and sets its
// mode exactly, whatever the umask.
func mkdirMode(t testing.TB, root, rel string, mode fs.FileMode) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// chmod sets the mode of rel below root exactly.
func chmod(t testing.TB, root, rel string, mode fs.FileMode) {
	t.Helper()
	if err := os.Chmod(filepath.Join(root, filepath.FromSlash(rel)), mode); err != nil {
		t.Fatal(err)
	}
}

// stamp is what any write to a path changes: a replacing rename gives a new
// inode, an in-place write, chmod or utimes moves the change time.
type stamp struct {
	Ino   uint64
	Ctime int64
}

// stamps records the stamp of every path below root.
func stamps(t testing.TB, root string) map[string]stamp {
	t.Helper()
	out := map[string]stamp{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = stamp{Ino: st.Ino, Ctime: st.Ctim.Nano()}
		return nil
	})
	if err != nil {
		t.Fatalf("stamps %s: %v", root, err)
	}
	return out
}
