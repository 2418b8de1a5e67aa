package agent

import (
	"context"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sync/tree"
)

// Pruning keeps every copy younger than the retention, whatever the
// retention: one so long that days*24h overflows a time.Duration must not
// wrap around into a cutoff in the future and remove them all.
func TestProtectionPruneNeverOverflows(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		days     int
		oldGone  bool // the copy of 40 days ago
		ancient  bool // the copy of 2000
		keepsNew bool // the copy of 4 minutes ago
	}{
		{"30 days", 30, true, true, true},
		{"the largest the API allows", 3650, false, true, true},
		{"the first that overflows", 106752, false, false, true},
		{"999999", 999999, false, false, true},
		{"2^62", 1 << 62, false, false, true},
		{"MaxInt", math.MaxInt, false, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			stamps := map[string]time.Time{"new": now.Add(-4 * time.Minute), "old": now.Add(-40 * 24 * time.Hour),
				"ancient": time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)}
			for _, at := range stamps {
				dir := filepath.Join(root, filepath.FromSlash(ProtectedDir), at.Format(stampLayout))
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte("kept\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			tr, err := tree.Open(root)
			if err != nil {
				t.Fatal(err)
			}
			defer tr.Close()
			p := newProtection(tr, tc.days)
			p.now = func() time.Time { return now }
			if _, err := p.prune(context.Background()); err != nil {
				t.Fatal(err)
			}
			gone := func(k string) bool {
				_, err := os.Lstat(filepath.Join(root, filepath.FromSlash(ProtectedDir), stamps[k].Format(stampLayout)))
				return errors.Is(err, fs.ErrNotExist)
			}
			if gone("new") == tc.keepsNew {
				t.Errorf("the copy of 4 minutes ago: removed %v, want kept", gone("new"))
			}
			if gone("old") != tc.oldGone {
				t.Errorf("the copy of 40 days ago: removed %v, want %v", gone("old"), tc.oldGone)
			}
			if gone("ancient") != tc.ancient {
				t.Errorf("the copy of 2000: removed %v, want %v", gone("ancient"), tc.ancient)
			}
		})
	}
}
