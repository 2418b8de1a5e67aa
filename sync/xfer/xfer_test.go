package xfer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/wire"
)

const srcHost = "site-src"

// fakeSource serves Fetch's reads from a tree with Serve, as the source
// agent would, and records them. before, if set, runs before each read is
// served, with no read being served meanwhile.
type fakeSource struct {
	t      *tree.Tree
	before func(r *wire.Read)

	rw      sync.RWMutex // held for writing by before, for reading by Serve
	mu      sync.Mutex
	reads   []wire.Read
	replies []wire.ReadData
}

func (s *fakeSource) Read(ctx context.Context, from string, r *wire.Read) (wire.ReadData, []byte, error) {
	if from != srcHost {
		return wire.ReadData{}, nil, fmt.Errorf("read from %q, want %q", from, srcHost)
	}
	if err := r.Validate(); err != nil {
		return wire.ReadData{}, nil, fmt.Errorf("invalid read: %w", err)
	}
	s.mu.Lock()
	s.reads = append(s.reads, *r)
	s.mu.Unlock()
	if s.before != nil {
		s.rw.Lock()
		s.before(r)
		s.rw.Unlock()
	}
	s.rw.RLock()
	c, err := Serve(s.t, srcHost, r)
	s.rw.RUnlock()
	if err != nil {
		// As it would cross the wire.
		return wire.ReadData{}, nil, wire.ToError("read", srcHost, r.Path, err)
	}
	defer c.Release()
	if err := c.Reply.Validate(); err != nil {
		return wire.ReadData{}, nil, err
	}
	s.mu.Lock()
	s.replies = append(s.replies, c.Reply)
	s.mu.Unlock()
	return c.Reply, bytes.Clone(c.Data), nil
}

type trees struct {
	srcDir, dstDir string
	src, dst       *tree.Tree
}

func newTrees(t *testing.T) *trees {
	t.Helper()
	tr := &trees{srcDir: t.TempDir(), dstDir: t.TempDir()}
	var err error
	if tr.src, err = tree.Open(tr.srcDir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.src.Close() })
	if tr.dst, err = tree.Open(tr.dstDir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.dst.Close() })
	return tr
}

// put writes a file below root and returns its entry, as a scan would.
func put(t *testing.T, root, rel string, data []byte, mode fs.FileMode, mtime time.Time) wire.Entry {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	return entryOf(t, root, rel)
}

func entryOf(t *testing.T, root, rel string) wire.Entry {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return wire.Entry{Path: rel, Kind: wire.KindFile, Size: fi.Size(), Mtime: fi.ModTime().UnixNano(),
		Mode: uint32(fi.Mode().Perm()), Hash: sha256.Sum256(data)}
}

func fetchOp(want wire.Entry, have *wire.Entry) *wire.Op {
	return &wire.Op{Kind: wire.OpFetch, Path: want.Path, From: srcHost, Want: want, Have: have}
}

// fetch runs Fetch and returns its result and the bytes progress reported.
func fetch(t *testing.T, src Source, dst *tree.Tree, op *wire.Op) (wire.Entry, int64, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var mu sync.Mutex
	var progress int64
	e, err := Fetch(ctx, src, dst, "s", op, func(n int64) {
		mu.Lock()
		progress += n
		mu.Unlock()
	})
	return e, progress, err
}

// noTemp fails the test if a peerlink temp file is left below root.
func noTemp(t *testing.T, root string) {
	t.Helper()
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && tree.IsTemp(d.Name()) {
			t.Errorf("temp file left: %s", p)
		}
		return nil
	})
}

// sameFile fails the test unless dst's rel is exactly want, content, mode
// and modification time.
func sameFile(t *testing.T, root string, want wire.Entry, content []byte) {
	t.Helper()
	got := entryOf(t, root, want.Path)
	if got != want {
		t.Errorf("%s is %+v, want %+v", want.Path, got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(root, filepath.FromSlash(want.Path))); !bytes.Equal(b, content) {
		t.Errorf("%s: content differs (%d bytes, want %d)", want.Path, len(b), len(content))
	}
}

func isKind(err error, k wire.ErrKind) bool { return errors.Is(err, &wire.Error{Kind: k}) }

var mtime = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n+8)
	r := rand.New(rand.NewPCG(seed, 7))
	for i := 0; i < n; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
	return b[:n]
}

func compressible(n int) []byte {
	var buf bytes.Buffer
	for i := 0; buf.Len() < n; i++ {
		fmt.Fprintf(&buf, "line %d of a very repetitive text file\n", i%1000)
	}
	return buf.Bytes()[:n]
}

func TestFetchSmallFile(t *testing.T) {
	tr := newTrees(t)
	data := []byte("hello, peer\n")
	want := put(t, tr.srcDir, "deep/er/small.txt", data, 0o640, mtime)
	src := &fakeSource{t: tr.src}
	got, progress, err := fetch(t, src, tr.dst, fetchOp(want, nil))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("Fetch returned %+v, want %+v", got, want)
	}
	sameFile(t, tr.dstDir, want, data)
	if progress != int64(len(data)) {
		t.Errorf("progress reported %d bytes, want %d", progress, len(data))
	}
	if len(src.reads) != 1 || src.reads[0].Offset != 0 || src.reads[0].Length != len(data) {
		t.Errorf("reads %+v, want one of the whole file", src.reads)
	}
	noTemp(t, tr.dstDir)
}

func TestFetchEmptyFile(t *testing.T) {
	tr := newTrees(t)
	want := put(t, tr.srcDir, "empty", nil, 0o600, mtime)
	src := &fakeSource{t: tr.src}
	if _, _, err := fetch(t, src, tr.dst, fetchOp(want, nil)); err != nil {
		t.Fatal(err)
	}
	sameFile(t, tr.dstDir, want, nil)
	if len(src.reads) != 0 {
		t.Errorf("an empty file took %d reads, want none", len(src.reads))
	}
	noTemp(t, tr.dstDir)
}

func TestFetchMultiChunk(t *testing.T) {
	for _, tc := range []struct {
		name         string
		data         []byte
		compressible bool
	}{
		{"compressible", compressible(3*wire.ChunkSize + 12345), true},
		// More chunks than Window+2, so that reads go out after the first
		// reply came back incompressible.
		{"incompressible", randomBytes(16*wire.ChunkSize+777, 1), false},
		{"exact chunks", randomBytes(2*wire.ChunkSize, 2), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTrees(t)
			want := put(t, tr.srcDir, "big.bin", tc.data, 0o644, mtime)
			src := &fakeSource{t: tr.src}
			_, progress, err := fetch(t, src, tr.dst, fetchOp(want, nil))
			if err != nil {
				t.Fatal(err)
			}
			sameFile(t, tr.dstDir, want, tc.data)
			if progress != want.Size {
				t.Errorf("progress reported %d bytes, want %d", progress, want.Size)
			}
			chunks := (len(tc.data) + wire.ChunkSize - 1) / wire.ChunkSize
			if len(src.reads) != chunks {
				t.Errorf("%d reads, want %d", len(src.reads), chunks)
			}
			var covered int64
			var raw, compressed int
			for _, r := range src.reads {
				covered += int64(r.Length)
				if r.Length > wire.ChunkSize {
					t.Errorf("read of %d bytes, more than a chunk", r.Length)
				}
				if r.Raw {
					raw++
				}
			}
			for _, rep := range src.replies {
				if rep.Codec != wire.CodecNone {
					compressed++
				}
			}
			if covered != want.Size {
				t.Errorf("reads cover %d bytes, want %d", covered, want.Size)
			}
			if tc.compressible {
				if compressed != chunks || raw != 0 {
					t.Errorf("compressible data: %d of %d chunks compressed, %d asked raw; want all compressed, none raw", compressed, chunks, raw)
				}
			} else {
				if compressed != 0 {
					t.Errorf("random data: %d chunks sent compressed", compressed)
				}
				if len(tc.data) > (Window+3)*wire.ChunkSize && raw == 0 {
					t.Errorf("random data: no read asked for raw data after a chunk came back incompressible")
				}
			}
			noTemp(t, tr.dstDir)
		})
	}
}

// A file that changes on the source while it is fetched never lands: the
// fetch fails as KindChanged and leaves neither the file nor a temp file.
func TestFetchSourceChanged(t *testing.T) {
	size := 5*wire.ChunkSize + 99
	cases := []struct {
		name   string
		change func(t *testing.T, path string)
		want   string
	}{
		{"grown", func(t *testing.T, p string) {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Error(err)
				return
			}
			f.WriteString("more")
			f.Close()
		}, "file changed since it was scanned"},
		{"touched", func(t *testing.T, p string) {
			os.Chtimes(p, mtime.Add(time.Second), mtime.Add(time.Second))
		}, "file changed since it was scanned"},
		{"truncated", func(t *testing.T, p string) { os.Truncate(p, int64(size/2)) }, "file changed since it was scanned"},
		// Same size, same mtime: only the end-to-end hash can tell.
		{"rewritten in place", func(t *testing.T, p string) {
			f, err := os.OpenFile(p, os.O_WRONLY, 0)
			if err != nil {
				t.Error(err)
				return
			}
			f.WriteAt([]byte("CHANGED"), 3*wire.ChunkSize+5)
			f.Close()
			os.Chtimes(p, mtime, mtime)
		}, "received"},
		{"removed", func(t *testing.T, p string) { os.Remove(p) }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTrees(t)
			data := randomBytes(size, 3)
			want := put(t, tr.srcDir, "f.bin", data, 0o644, mtime)
			// The target already holds an older copy, which must survive.
			old := []byte("old copy")
			have := put(t, tr.dstDir, "f.bin", old, 0o644, mtime.Add(-time.Hour))
			var once sync.Once
			src := &fakeSource{t: tr.src, before: func(r *wire.Read) {
				if r.Offset == 3*wire.ChunkSize {
					once.Do(func() { tc.change(t, filepath.Join(tr.srcDir, "f.bin")) })
				}
			}}
			_, _, err := fetch(t, src, tr.dst, fetchOp(want, &have))
			switch {
			case err == nil:
				t.Fatal("fetch of a file changed on the source succeeded")
			case tc.name == "removed":
				if !isKind(err, wire.KindNotFound) && !isKind(err, wire.KindChanged) {
					t.Errorf("error %v (%T), want not found or changed", err, err)
				}
			case !isKind(err, wire.KindChanged):
				t.Errorf("error %v, want KindChanged", err)
			}
			if err != nil && !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if err != nil && !strings.Contains(err.Error(), "f.bin") {
				t.Errorf("error %q does not name the file", err)
			}
			sameFile(t, tr.dstDir, have, old)
			noTemp(t, tr.dstDir)
		})
	}
}

// A fetch whose content does not hash to op.Want's hash is refused.
func TestFetchHashMismatch(t *testing.T) {
	for _, size := range []int{10, 2*wire.ChunkSize + 1} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			tr := newTrees(t)
			want := put(t, tr.srcDir, "f", randomBytes(size, 4), 0o644, mtime)
			want.Hash[0] ^= 1
			_, _, err := fetch(t, &fakeSource{t: tr.src}, tr.dst, fetchOp(want, nil))
			if !isKind(err, wire.KindChanged) || !strings.Contains(err.Error(), "expected") {
				t.Fatalf("error %v, want KindChanged naming the expected hash", err)
			}
			if _, err := os.Lstat(filepath.Join(tr.dstDir, "f")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the refused file is at its destination: %v", err)
			}
			noTemp(t, tr.dstDir)
		})
	}
}

// The target's copy must still be op.Have when the fetched file is put in
// place; otherwise the fetch is refused and the copy kept.
func TestFetchHaveMismatch(t *testing.T) {
	newContent := []byte("the winning copy\n")
	cases := []struct {
		name  string
		setup func(t *testing.T, dstDir string) (have *wire.Entry, keep []byte)
		want  string
	}{
		{"changed since the scan", func(t *testing.T, dst string) (*wire.Entry, []byte) {
			have := put(t, dst, "f.txt", []byte("seen by the scan"), 0o644, mtime.Add(-time.Hour))
			put(t, dst, "f.txt", []byte("edited by a user since"), 0o644, mtime.Add(-time.Minute))
			return &have, []byte("edited by a user since")
		}, "changed since the scan"},
		{"same size, other mtime", func(t *testing.T, dst string) (*wire.Entry, []byte) {
			have := put(t, dst, "f.txt", []byte("aaaa"), 0o644, mtime.Add(-time.Hour))
			put(t, dst, "f.txt", []byte("bbbb"), 0o644, mtime.Add(-time.Hour+time.Nanosecond))
			return &have, []byte("bbbb")
		}, "changed since the scan"},
		{"appeared since the scan", func(t *testing.T, dst string) (*wire.Entry, []byte) {
			put(t, dst, "f.txt", []byte("created by a user since"), 0o644, mtime)
			return nil, []byte("created by a user since")
		}, "appeared since the scan"},
		{"removed since the scan", func(t *testing.T, dst string) (*wire.Entry, []byte) {
			have := put(t, dst, "f.txt", []byte("x"), 0o644, mtime)
			os.Remove(filepath.Join(dst, "f.txt"))
			return &have, nil
		}, "removed since the scan"},
		{"now a folder", func(t *testing.T, dst string) (*wire.Entry, []byte) {
			have := put(t, dst, "f.txt", []byte("x"), 0o644, mtime)
			os.Remove(filepath.Join(dst, "f.txt"))
			os.Mkdir(filepath.Join(dst, "f.txt"), 0o755)
			return &have, nil
		}, "changed since the scan"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTrees(t)
			want := put(t, tr.srcDir, "f.txt", newContent, 0o644, mtime)
			have, keep := tc.setup(t, tr.dstDir)
			_, _, err := fetch(t, &fakeSource{t: tr.src}, tr.dst, fetchOp(want, have))
			if !isKind(err, wire.KindChanged) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "f.txt") {
				t.Fatalf("error %v, want KindChanged saying %q about f.txt", err, tc.want)
			}
			p := filepath.Join(tr.dstDir, "f.txt")
			if keep != nil {
				if b, err := os.ReadFile(p); err != nil || !bytes.Equal(b, keep) {
					t.Errorf("target's copy now %q (%v), want %q kept", b, err, keep)
				}
			} else if fi, err := os.Lstat(p); err == nil && !fi.IsDir() {
				t.Errorf("the refused file was put in place")
			}
			noTemp(t, tr.dstDir)
		})
	}

	// The control: a copy that is still op.Have is replaced.
	tr := newTrees(t)
	want := put(t, tr.srcDir, "f.txt", newContent, 0o644, mtime)
	have := put(t, tr.dstDir, "f.txt", []byte("older"), 0o600, mtime.Add(-time.Hour))
	if _, _, err := fetch(t, &fakeSource{t: tr.src}, tr.dst, fetchOp(want, &have)); err != nil {
		t.Fatal(err)
	}
	sameFile(t, tr.dstDir, want, newContent)
	noTemp(t, tr.dstDir)
}

// A read that fails on the source fails the fetch with the source's error
// and leaves no temp file; so does a cancelled fetch.
func TestFetchReadFails(t *testing.T) {
	tr := newTrees(t)
	want := put(t, tr.srcDir, "f", randomBytes(4*wire.ChunkSize, 5), 0o644, mtime)
	failing := sourceFunc(func(ctx context.Context, from string, r *wire.Read) (wire.ReadData, []byte, error) {
		if r.Offset == 2*wire.ChunkSize {
			return wire.ReadData{}, nil, &wire.Error{Kind: wire.KindPermission, Op: "read", Host: from, Path: r.Path, Msg: "permission denied"}
		}
		return (&fakeSource{t: tr.src}).Read(ctx, from, r)
	})
	_, _, err := fetch(t, failing, tr.dst, fetchOp(want, nil))
	if !isKind(err, wire.KindPermission) || !strings.Contains(err.Error(), srcHost) {
		t.Errorf("error %v, want the source's permission error naming %s", err, srcHost)
	}
	noTemp(t, tr.dstDir)

	ctx, cancel := context.WithCancel(context.Background())
	hang := sourceFunc(func(ctx context.Context, from string, r *wire.Read) (wire.ReadData, []byte, error) {
		if r.Offset > 0 {
			cancel()
			<-ctx.Done()
			return wire.ReadData{}, nil, ctx.Err()
		}
		return (&fakeSource{t: tr.src}).Read(ctx, from, r)
	})
	_, err = Fetch(ctx, hang, tr.dst, "s", fetchOp(want, nil), nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled fetch: %v, want context.Canceled", err)
	}
	if _, err := os.Lstat(filepath.Join(tr.dstDir, "f")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed fetch left the file: %v", err)
	}
	noTemp(t, tr.dstDir)
}

type sourceFunc func(ctx context.Context, from string, r *wire.Read) (wire.ReadData, []byte, error)

func (f sourceFunc) Read(ctx context.Context, from string, r *wire.Read) (wire.ReadData, []byte, error) {
	return f(ctx, from, r)
}

// Serve answers only the version of a regular file that was asked for, and
// says which file, on which host, is the problem.
func TestServeRefuses(t *testing.T) {
	tr := newTrees(t)
	e := put(t, tr.srcDir, "f", []byte("content"), 0o644, mtime)
	if err := os.Symlink("f", filepath.Join(tr.srcDir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(tr.srcDir, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	read := func(path string, size, mtime int64) *wire.Read {
		return &wire.Read{Session: "s", Path: path, Length: wire.ChunkSize, Size: size, Mtime: mtime}
	}
	cases := []struct {
		name string
		r    *wire.Read
		kind wire.ErrKind
	}{
		{"missing", read("nope", 1, e.Mtime), wire.KindNotFound},
		{"other size", read("f", e.Size+1, e.Mtime), wire.KindChanged},
		{"other mtime", read("f", e.Size, e.Mtime+1), wire.KindChanged},
		{"symlink", read("link", e.Size, e.Mtime), wire.KindInvalid},
		{"folder", read("dir", 0, e.Mtime), wire.KindInvalid},
		{"escapes the root", read("../f", e.Size, e.Mtime), wire.KindInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Serve(tr.src, srcHost, tc.r)
			if err == nil {
				c.Release()
				t.Fatal("served")
			}
			var we *wire.Error
			if !errors.As(err, &we) || we.Kind != tc.kind || we.Host != srcHost || we.Path == "" {
				t.Errorf("error %v (%+v), want kind %s naming host and path", err, we, tc.kind)
			}
		})
	}
	c, err := Serve(tr.src, srcHost, read("f", e.Size, e.Mtime))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	if c.Reply.N != int(e.Size) || !c.Reply.EOF || c.Reply.Codec != wire.CodecNone || string(c.Data) != "content" {
		t.Errorf("served %+v %q", c.Reply, c.Data)
	}
}
