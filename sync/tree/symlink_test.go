package tree

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/peerlink/peerlink/wire"
)

// A folder of the watch set replaced by a symlink (out of the root, or
// climbing out of it) makes every operation through it fail with a
// message naming the symlink and what to do, instead of the kernel's
// "invalid cross-device link" or os.Root's "path escapes from parent".
func TestSymlinkWhereAFolderWasIsExplained(t *testing.T) {
	root, out := t.TempDir(), t.TempDir()
	if err := os.Symlink(out, filepath.Join(root, "d")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "e"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../..", filepath.Join(root, "e", "up")); err != nil {
		t.Fatal(err)
	}
	tr, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	ops := map[string]func(p string) error{
		"create": func(p string) error {
			f, err := tr.Create(p)
			if err == nil {
				f.Abort()
			}
			return err
		},
		"mkdir":   func(p string) error { return tr.Mkdir(p, 0o755) },
		"remove":  func(p string) error { return tr.Remove(p) },
		"lstat":   func(p string) error { _, err := tr.Lstat(p); return err },
		"setmeta": func(p string) error { return tr.SetMeta(p, 0, 0o644) },
		"rename":  func(p string) error { return tr.Rename("e", p) },
		"opendir": func(p string) error { _, err := tr.OpenDir(p); return err },
	}
	for _, tc := range []struct{ path, link, target, what string }{
		{"d/x", "d", out, "a folder"},
		{"d/sub/x", "d", out, "a folder"},
		{"e/up/x", "e/up", "../..", "a folder"},
	} {
		for name, op := range ops {
			err := op(tc.path)
			var we *wire.Error
			if !errors.As(err, &we) || we.Kind != wire.KindInvalid {
				t.Errorf("%s %s: %v, want a KindInvalid *wire.Error", name, tc.path, err)
				continue
			}
			want := tc.link + " is a symlink (to " + tc.target + ") where the session has " + tc.what
			if msg := err.Error(); !strings.Contains(msg, want) || !strings.Contains(msg, "--exclude /"+tc.link) {
				t.Errorf("%s %s: %q; want it to say %q and how to exclude it", name, tc.path, msg, want)
			}
		}
	}
	if ents, err := os.ReadDir(out); err != nil || len(ents) != 0 {
		t.Errorf("the symlink's target holds %v (%v), want nothing", ents, err)
	}
	// The symlink itself, where a file or folder is expected.
	if err := tr.SetMeta("d", 0, 0o755); err == nil || !strings.Contains(err.Error(), "d is a symlink (to "+out+") where the session has a file or folder") {
		t.Errorf("setmeta d: %v", err)
	}
	if err := tr.Mkdir("d", 0o755); err == nil || !strings.Contains(err.Error(), "d is a symlink (to "+out+") where the session has a folder") {
		t.Errorf("mkdir d: %v", err)
	}
}
