package xfer

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/wire"
)

// manySource serves ReadMany with ServeMany (ServeBatch with batch), as
// the source agent would; before, if set, runs first.
type manySource struct {
	t      *tree.Tree
	before func()
	calls  int
	batch  bool
}

func (s *manySource) ReadMany(ctx context.Context, from string, r *wire.ReadMany) (wire.ReadManyData, []byte, error) {
	if from != srcHost {
		return wire.ReadManyData{}, nil, fmt.Errorf("read from %q, want %q", from, srcHost)
	}
	if err := r.Validate(); err != nil {
		return wire.ReadManyData{}, nil, fmt.Errorf("invalid read many: %w", err)
	}
	s.calls++
	if s.before != nil {
		s.before()
	}
	serve := ServeMany
	if s.batch {
		serve = ServeBatch
	}
	b, err := serve(s.t, srcHost, r)
	if err != nil {
		return wire.ReadManyData{}, nil, err
	}
	defer b.Release()
	if err := b.Reply.Validate(); err != nil {
		return wire.ReadManyData{}, nil, err
	}
	return b.Reply, bytes.Clone(b.Data), nil
}

func fetchMany(t *testing.T, src ManySource, dst *tree.Tree, ops []*wire.Op) ([]Fetched, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var progress int64
	out := FetchMany(ctx, src, dst, "s", ops, func(n int64) { progress += n })
	if len(out) != len(ops) {
		t.Fatalf("%d outcomes for %d ops", len(out), len(ops))
	}
	return out, progress
}

func TestFetchMany(t *testing.T) {
	for _, batch := range []bool{false, true} {
		t.Run(fmt.Sprintf("batch=%t", batch), func(t *testing.T) { testFetchMany(t, batch) })
	}
}

func testFetchMany(t *testing.T, batch bool) {
	tr := newTrees(t)
	contents := map[string][]byte{
		"a/random":       randomBytes(10<<10, 1),
		"a/compressible": compressible(20 << 10),
		"a/empty":        {},
		"b/deep/x.txt":   []byte("hello, peer\n"),
	}
	var ops []*wire.Op
	var total int64
	for _, name := range []string{"a/random", "a/compressible", "a/empty", "b/deep/x.txt"} {
		want := put(t, tr.srcDir, name, contents[name], 0o640, mtime)
		ops = append(ops, fetchOp(want, nil))
		total += want.Size
	}
	src := &manySource{t: tr.src, batch: batch}
	out, progress := fetchMany(t, src, tr.dst, ops)
	if src.calls != 1 {
		t.Errorf("%d round trips, want 1", src.calls)
	}
	for i, f := range out {
		if f.Err != nil || f.Staged == nil {
			t.Fatalf("%s: %v (staged %v)", ops[i].Path, f.Err, f.Staged)
		}
		if f.Entry != ops[i].Want {
			t.Errorf("%s: entry %+v, want %+v", ops[i].Path, f.Entry, ops[i].Want)
		}
	}
	if _, err := os.Stat(filepath.Join(tr.dstDir, "a/random")); !os.IsNotExist(err) {
		t.Errorf("a staged file is in place before Sync: %v", err)
	}
	if _, err := tr.dst.Sync(); err != nil {
		t.Fatal(err)
	}
	for i, f := range out {
		if err := f.Staged.Err(); err != nil {
			t.Errorf("%s: %v", ops[i].Path, err)
		}
		sameFile(t, tr.dstDir, ops[i].Want, contents[ops[i].Path])
	}
	if progress != total {
		t.Errorf("progress %d bytes, want %d", progress, total)
	}
	noTemp(t, tr.dstDir)
}

// One file that changed at the source fails alone; the others land.
func TestFetchManyOneChanged(t *testing.T) {
	tr := newTrees(t)
	a := put(t, tr.srcDir, "a", []byte("first"), 0o644, mtime)
	b := put(t, tr.srcDir, "b", []byte("second"), 0o644, mtime)
	c := put(t, tr.srcDir, "c", []byte("third"), 0o644, mtime)
	src := &manySource{t: tr.src, batch: true, before: func() {
		os.WriteFile(filepath.Join(tr.srcDir, "b"), []byte("second, edited"), 0o644)
	}}
	out, _ := fetchMany(t, src, tr.dst, []*wire.Op{fetchOp(a, nil), fetchOp(b, nil), fetchOp(c, nil)})
	if !isKind(out[1].Err, wire.KindChanged) {
		t.Errorf("b: %v, want changed at the source", out[1].Err)
	}
	if out[0].Err != nil || out[2].Err != nil {
		t.Fatalf("a: %v, c: %v", out[0].Err, out[2].Err)
	}
	tr.dst.Sync()
	sameFile(t, tr.dstDir, a, []byte("first"))
	sameFile(t, tr.dstDir, c, []byte("third"))
	if _, err := os.Stat(filepath.Join(tr.dstDir, "b")); !os.IsNotExist(err) {
		t.Errorf("b was written: %v", err)
	}
	noTemp(t, tr.dstDir)
}

// A destination that changed since the scan is left alone, decided at Sync.
func TestFetchManyHaveChanged(t *testing.T) {
	tr := newTrees(t)
	want := put(t, tr.srcDir, "f", []byte("new"), 0o644, mtime)
	have := put(t, tr.dstDir, "f", []byte("old"), 0o644, mtime.Add(-time.Hour))
	os.WriteFile(filepath.Join(tr.dstDir, "f"), []byte("a user's edit"), 0o644)
	out, _ := fetchMany(t, &manySource{t: tr.src}, tr.dst, []*wire.Op{fetchOp(want, &have)})
	if out[0].Err != nil {
		t.Fatal(out[0].Err)
	}
	tr.dst.Sync()
	if err := out[0].Staged.Err(); !isKind(err, wire.KindChanged) {
		t.Errorf("staged: %v, want changed since the scan", err)
	}
	if b, _ := os.ReadFile(filepath.Join(tr.dstDir, "f")); string(b) != "a user's edit" {
		t.Errorf("the user's edit was replaced: %q", b)
	}
	noTemp(t, tr.dstDir)
}

func TestFetchManyRefusesMixedSources(t *testing.T) {
	tr := newTrees(t)
	a := put(t, tr.srcDir, "a", []byte("a"), 0o644, mtime)
	b := put(t, tr.srcDir, "b", []byte("b"), 0o644, mtime)
	opB := fetchOp(b, nil)
	opB.From = "elsewhere"
	src := &manySource{t: tr.src}
	out, _ := fetchMany(t, src, tr.dst, []*wire.Op{fetchOp(a, nil), opB})
	if out[0].Err == nil || out[1].Err == nil || src.calls != 0 {
		t.Errorf("mixed sources: %v, %v after %d calls", out[0].Err, out[1].Err, src.calls)
	}
}

// Many large fetches at once share the chunk budget and give every unit
// back, whether they land or fail half way.
func TestFetchBudgetIsReturned(t *testing.T) {
	tr := newTrees(t)
	var ops []*wire.Op
	for i := range 12 {
		want := put(t, tr.srcDir, fmt.Sprintf("big/%02d", i), randomBytes(3*wire.ChunkSize+5, uint64(i)), 0o644, mtime)
		ops = append(ops, fetchOp(want, nil))
	}
	src := &fakeSource{t: tr.src, before: func(r *wire.Read) {
		if r.Path == "big/03" && r.Offset > 0 {
			os.WriteFile(filepath.Join(tr.srcDir, "big/03"), []byte("changed"), 0o644)
		}
	}}
	errs := make(chan error, len(ops))
	for _, op := range ops {
		go func() {
			_, _, err := fetch(t, src, tr.dst, op)
			errs <- err
		}()
	}
	failed := 0
	for range ops {
		if err := <-errs; err != nil {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d fetches failed, want the one whose source changed", failed)
	}
	if n := len(budget); n != 0 {
		t.Errorf("%d chunk units still held after every fetch returned", n)
	}
	noTemp(t, tr.dstDir)
}
