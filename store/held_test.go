package store

import (
	"testing"
	"time"

	"github.com/peerlink/peerlink/wire"
)

// Held deletions survive the hub's restart, add up without counting a path
// twice, keep their first time and reason, and go with a release or the
// session's deletion.
func TestHeldDeletionsPersistUntilReleased(t *testing.T) {
	h, path := newHub(t)
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f := func(p string) wire.Entry { return wire.Entry{Path: p, Kind: wire.KindFile, Size: 1} }
	if _, err := h.HoldDeletions("s", "b", Held{Since: since, Reason: "empty-root"},
		map[string]wire.Entry{"a": f("a"), "d": {Path: "d", Kind: wire.KindDir}}); err != nil {
		t.Fatal(err)
	}
	got, err := h.HoldDeletions("s", "b", Held{Since: since.Add(time.Hour), Reason: "mass-delete"},
		map[string]wire.Entry{"a": f("a"), "d/x": f("d/x")})
	if err != nil {
		t.Fatal(err)
	}
	if want := (Held{Since: since, Reason: "empty-root", Paths: 3, Files: 2}); got != want {
		t.Fatalf("held %+v; want %+v", got, want)
	}
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	h, err = OpenHub(path)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	hosts, err := h.HeldHosts("s")
	if err != nil || len(hosts) != 1 || hosts["b"].Paths != 3 {
		t.Fatalf("after a restart: %v, %v; want b's 3 paths", hosts, err)
	}
	paths, err := h.HeldDeletions("s", "b")
	if err != nil || len(paths) != 3 || paths["d/x"] != f("d/x") {
		t.Fatalf("held paths %v, %v", paths, err)
	}
	if err := h.ReleaseDeletions("s", "b"); err != nil {
		t.Fatal(err)
	}
	if hosts, _ := h.HeldHosts("s"); len(hosts) != 0 {
		t.Fatalf("after release: %v", hosts)
	}
}
