package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sync/delta"
	"github.com/peerlink/peerlink/wire"
)

// The signature requests of a delta are served as a Read is: to a host of
// the session or the hub, for paths the session takes, and only for the
// version asked for.
func TestSignaturesServedAsReadsAre(t *testing.T) {
	url, hub := startAgent(t)
	root := t.TempDir()
	content := []byte(strings.Repeat("peerlink delta signature ", 200_000)) // ~5 MB
	for _, p := range []string{"big.bin", "big.bak"} {
		if err := os.WriteFile(filepath.Join(root, p), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	evil := dial(t, url, wire.RoleAgent, "evil")
	host := dial(t, url, wire.RoleAgent, "site-b")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	attach := &wire.Attach{Session: "s", Root: root, Exclude: []string{"*.bak"}, Hosts: []string{"site-a", "site-b"}}
	if _, err := hub.Request(ctx, "site-a", attach, nil); err != nil {
		t.Fatalf("attach from the hub: %v", err)
	}
	spansOf := func(path string) *wire.Spans {
		r := readOf(t, root, path)
		return &wire.Spans{Session: "s", Path: path, Size: r.Size, Mtime: r.Mtime}
	}
	kindOf := func(err error) wire.ErrKind {
		var we *wire.Error
		if errors.As(err, &we) {
			return we.Kind
		}
		return 255
	}

	in, err := host.Request(ctx, "site-a", spansOf("big.bin"), nil)
	if err != nil {
		t.Fatalf("spans of big.bin by site-b: %v", err)
	}
	got, err := delta.ParseBlocks(in.Data, delta.MaxSpan)
	s := delta.NewSpans()
	s.Write(content)
	if want := s.Blocks(); err != nil || len(got) != len(want) || got[0] != want[0] {
		t.Errorf("spans of big.bin: %d spans (%v), want %d", len(got), err, len(want))
	}
	chunks := &wire.Chunks{Session: "s", Path: "big.bin", Size: int64(len(content)), Mtime: spansOf("big.bin").Mtime,
		Spans: []wire.ByteRange{{Off: 0, Len: int64(got[0].Len)}}}
	if in, err := host.Request(ctx, "site-a", chunks, nil); err != nil || len(in.Data) == 0 {
		t.Errorf("chunks of big.bin by site-b: %d bytes, %v", len(in.Data), err)
	}

	if _, err := evil.Request(ctx, "site-a", spansOf("big.bin"), nil); kindOf(err) != wire.KindPermission {
		t.Errorf("spans by evil: %v, want permission refused", err)
	}
	if _, err := evil.Request(ctx, "site-a", chunks, nil); kindOf(err) != wire.KindPermission {
		t.Errorf("chunks by evil: %v, want permission refused", err)
	}
	if _, err := host.Request(ctx, "site-a", spansOf("big.bak"), nil); kindOf(err) != wire.KindPermission {
		t.Errorf("spans of an excluded path: %v, want permission refused", err)
	}
	old := spansOf("big.bin")
	old.Mtime--
	if _, err := host.Request(ctx, "site-a", old, nil); kindOf(err) != wire.KindChanged {
		t.Errorf("spans of another version: %v, want changed", err)
	}
}
