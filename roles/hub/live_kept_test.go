package hub

import (
	"slices"
	"sort"
	"testing"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/wire"
)

// A folder removed on a host that never got the files of it another host
// had (their fetches failed at the session's start, so no lag recorded
// them): its removal is not carried whole, and the remover lags on what
// stays, the folders on the way included, so that the repair brings them
// back to it (make chaos, seed 100016). What it held and removed, it does
// not lag on.
func TestKeptFolderRemoverLagsOnWhatStays(t *testing.T) {
	r := graceRun(t, 0)
	r.lags = map[string]map[string]*lag{} // as the live loop starts
	all := []string{"site-a", "site-b", "site-c"}
	ab := []string{"site-a", "site-b"}
	index := []conflict.Record{
		{Entry: folder("a"), Hosts: all},
		{Entry: folder("a/c"), Hosts: all},
		{Entry: folder("a/c/d0"), Hosts: all},
		{Entry: folder("a/gone"), Hosts: all},
		{Entry: file("a/c/f2.txt", 1), Hosts: ab},
		{Entry: file("a/f3.bin", 2), Hosts: ab},
		{Entry: file("a/gone/f", 3), Hosts: all},
	}
	if err := r.h.db.PutIndex(r.cfg.Name, index); err != nil {
		t.Fatal(err)
	}
	batch := []wire.Change{
		{Kind: wire.ChangeRemove, Path: "a/c/d0"},
		{Kind: wire.ChangeRemove, Path: "a/c"},
		{Kind: wire.ChangeRemove, Path: "a/gone"},
		{Kind: wire.ChangeRemove, Path: "a"},
	}
	r.decide("site-c", []string{"site-a", "site-b"}, batch)
	var lagging []string
	for p, m := range r.lags {
		if m["site-c"] != nil {
			lagging = append(lagging, p)
		}
		for h := range m {
			if h != "site-c" {
				t.Errorf("%s lags on %s", h, p)
			}
		}
	}
	sort.Strings(lagging)
	want := []string{"a", "a/c", "a/c/f2.txt", "a/f3.bin"}
	if !slices.Equal(lagging, want) {
		t.Errorf("site-c lags on %v, want %v", lagging, want)
	}
}
