//go:build linux

package agent

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/peerlink/peerlink/sync/watch"
	"github.com/peerlink/peerlink/wire"
)

// The race a scan cannot see: a writer opens a file after the scan and
// before the op that replaces or removes it. The agent refuses such an op
// as open for writing (wire.KindOpen), before anything moves and again
// right before the rename; once the writer closed, the same op goes
// through. No broker is needed: nothing is fetched.
func TestApplyRefusesWhatIsOpenForWriting(t *testing.T) {
	l, root := newTestLive(t)
	s := l.s
	s.live = l
	w, err := watch.New(context.Background(), root, watch.Options{Filter: s.filter})
	do(t, err)
	l.w = w
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for range w.Events() {
		}
	}()
	t.Cleanup(func() { w.Close(); <-drained })
	s.tree.GuardReplace(l.guardReplace)

	put(t, root, "open.txt", "being written")
	put(t, root, "dir/inside.txt", "being written too")
	have := func(rel string) *wire.Entry {
		info, err := s.tree.Lstat(rel)
		do(t, err)
		e := info.Entry(rel)
		return &e
	}
	writer, err := os.OpenFile(filepath.Join(root, "open.txt"), os.O_RDWR, 0)
	do(t, err)
	defer writer.Close()
	l.opened.add("dir/inside.txt") // as the live loop records a reported write-open
	inside, err := os.OpenFile(filepath.Join(root, "dir/inside.txt"), os.O_RDWR, 0)
	do(t, err)
	defer inside.Close()

	want := wire.Entry{Path: "open.txt", Kind: wire.KindFile, Size: 3, Mtime: 1, Mode: 0o644}
	for _, op := range []wire.Op{
		{Kind: wire.OpFetch, Path: "open.txt", From: "site-b", Want: want, Have: have("open.txt")},
		{Kind: wire.OpDelete, Path: "open.txt", Have: have("open.txt")},
		{Kind: wire.OpDelete, Path: "dir", Have: have("dir")},
	} {
		res, _ := l.a.applyOne(context.Background(), nil, s, &op, 0, func(int64) {})
		if res.Error == nil || res.Error.Kind != wire.KindOpen {
			t.Errorf("%s %s with a writer on it: %+v, want refused as open for writing", op.Kind, op.Path, res.Error)
		}
	}
	// The tree's own check, for a writer that opens the file after the
	// agent's first look.
	p, err := s.tree.Create("open.txt")
	do(t, err)
	io.WriteString(p, "new")
	e := have("open.txt")
	if err := p.Commit(wire.Entry{Path: "open.txt", Kind: wire.KindFile, Size: 3, Mode: 0o644, Mtime: 1, Hash: sha256.Sum256([]byte("new"))}, e); !errors.Is(err, &wire.Error{Kind: wire.KindOpen}) {
		t.Errorf("a commit over the open file: %v, want refused as open for writing", err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "open.txt")); string(b) != "being written" {
		t.Fatalf("the open file was replaced: %q", b)
	}

	do(t, writer.Close())
	do(t, inside.Close())
	l.opened.remove("dir/inside.txt")
	op := wire.Op{Kind: wire.OpDelete, Path: "dir", Have: have("dir")}
	if res, _ := l.a.applyOne(context.Background(), nil, s, &op, 0, func(int64) {}); res.Error != nil {
		t.Errorf("delete dir once its writer closed: %v", res.Error)
	}
}
