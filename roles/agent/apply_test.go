//go:build linux

package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peerlink/peerlink/sync/lock"
	"github.com/peerlink/peerlink/wire"
)

// An op whose outcome is already in place is done, not a conflict: the hub
// plans from its index, which can be behind what it had this host apply (a
// change reported twice, a result it never heard of), and it quarantines a
// path whose copy "changed" under an op (issue 17: false concurrent edits
// after a burst). A copy that differs from what the op wants is still
// refused. No broker is needed: nothing is fetched.
func TestApplyWhatIsAlreadyThereIsDone(t *testing.T) {
	l, root := newTestLive(t)
	s := l.s
	s.live = l
	put(t, root, "same.txt", "the hub's own copy")
	put(t, root, "other.txt", "a user's edit")
	put(t, root, "mode.txt", "the content wanted, another mode")
	put(t, root, "locked.txt", "the content wanted, locked for a writer elsewhere")
	do(t, os.Chmod(filepath.Join(root, "mode.txt"), 0o600))
	entry := func(rel, content string) wire.Entry {
		info, err := s.tree.Lstat(rel)
		do(t, err)
		e := info.Entry(rel)
		e.Hash, err = hashFile(s.tree, rel)
		do(t, err)
		if content != "" {
			e.Hash[0]++ // another content of the same size and time
		}
		return e
	}
	wantMode := entry("mode.txt", "")
	wantMode.Mode = 0o644
	lockedWant := entry("locked.txt", "")
	do(t, l.locker.Lock("locked.txt", lock.Holder{Host: "site-b", User: "ann"}))
	older := wire.Entry{Path: "x", Kind: wire.KindFile, Size: 3, Mtime: 1, Mode: 0o644}

	for _, tc := range []struct {
		name string
		op   wire.Op
		ok   bool
	}{
		{"a create of a file already there as wanted", wire.Op{Kind: wire.OpFetch, Path: "same.txt", From: "site-b", Want: entry("same.txt", "")}, true},
		{"a fetch over an older copy already replaced by the wanted one", wire.Op{Kind: wire.OpFetch, Path: "same.txt", From: "site-b", Want: entry("same.txt", ""), Have: &older}, true},
		{"a create of a file there with another content", wire.Op{Kind: wire.OpFetch, Path: "other.txt", From: "site-b", Want: entry("other.txt", "x")}, false},
		{"a fetch of the content there with another mode", wire.Op{Kind: wire.OpFetch, Path: "mode.txt", From: "site-b", Want: wantMode, Have: &older}, true},
		{"a fetch of the content of a locked copy", wire.Op{Kind: wire.OpFetch, Path: "locked.txt", From: "site-b", Want: lockedWant, Have: &older}, true},
		{"a delete of a file already gone", wire.Op{Kind: wire.OpDelete, Path: "gone.txt", Have: &older}, true},
	} {
		res, staged := l.a.applyOne(context.Background(), nil, s, &tc.op, 0, func(int64) {})
		if staged != nil {
			t.Errorf("%s: staged a fetch", tc.name)
		}
		switch {
		case tc.ok && res.Error != nil:
			t.Errorf("%s: %v; want it done", tc.name, res.Error)
		case !tc.ok && (res.Error == nil || res.Error.Kind != wire.KindChanged):
			t.Errorf("%s: result %+v; want it refused as changed", tc.name, res)
		}
	}
	if info, err := s.tree.Lstat("mode.txt"); err != nil || info.Mode != 0o644 {
		t.Errorf("mode.txt: mode %o (%v), want the wanted 644", info.Mode, err)
	}
	if l.locker.Locked("locked.txt") {
		t.Error("locked.txt: still locked after a fetch of what it holds")
	}
	if info, err := s.tree.Lstat("locked.txt"); err != nil || info.Mode != 0o644 {
		t.Errorf("locked.txt: mode %o (%v), want its own 644 back", info.Mode, err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "other.txt")); !strings.Contains(string(b), "a user's edit") {
		t.Errorf("other.txt: %q, want the user's edit kept", b)
	}
}
