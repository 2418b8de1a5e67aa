package hub

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/wire"
)

// A repair that finds a lagging host holding the index's state of a path
// records it there: on the record of the index's version, or, where that
// version is a removal, off the record the removal left on the hosts
// where it failed (make chaos, seed 4389).
func TestRepairCaughtUpIndex(t *testing.T) {
	dir := func(p string) wire.Entry { return wire.Entry{Path: p, Kind: wire.KindDir, Mode: 0o755} }
	file := func(p string, mtime int64) wire.Entry {
		return wire.Entry{Path: p, Kind: wire.KindFile, Size: 3, Mode: 0o644, Mtime: mtime}
	}
	old, now := file("f.txt", 1), file("f.txt", 2)
	cases := []struct {
		name  string
		index []conflict.Record
		lags  map[string]*wire.Entry // by host, on path
		path  string
		host  string
		had   bool // as repairPath passes it: false where the index's version is a removal
		cur   *wire.Entry
		want  map[string][]string // path -> hosts; absent: no record
	}{{
		name:  "a host that removed the folder by a repair leaves the removal's record to the host still lagging",
		index: []conflict.Record{{Entry: dir("a/c"), Hosts: []string{"site-b", "site-c"}}, {Entry: dir("a/cd"), Hosts: []string{"site-b", "site-c"}}},
		lags:  map[string]*wire.Entry{"site-b": new(dir("a/c")), "site-c": new(dir("a/c"))},
		path:  "a/c", host: "site-c",
		want: map[string][]string{"a/c": {"site-b"}, "a/cd": {"site-b", "site-c"}},
	}, {
		name:  "the last host to remove the folder by a repair takes its record and those below with it",
		index: []conflict.Record{{Entry: dir("a/c"), Hosts: []string{"site-c"}}, {Entry: file("a/c/x.txt", 1), Hosts: []string{"site-c"}}, {Entry: dir("a/cd"), Hosts: []string{"site-c"}}},
		lags:  map[string]*wire.Entry{"site-c": new(dir("a/c"))},
		path:  "a/c", host: "site-c",
		want: map[string][]string{"a/cd": {"site-c"}},
	}, {
		name:  "a host that removed the folder by a repair is taken off the records below it, which others keep",
		index: []conflict.Record{{Entry: dir("a/c"), Hosts: []string{"site-c"}}, {Entry: file("a/c/x.txt", 1), Hosts: []string{"site-a", "site-c"}}},
		lags:  map[string]*wire.Entry{"site-c": new(dir("a/c"))},
		path:  "a/c", host: "site-c",
		want: map[string][]string{"a/c/x.txt": {"site-a"}},
	}, {
		name: "a removal the index forgot already stays forgotten",
		lags: map[string]*wire.Entry{"site-c": new(dir("a/c"))},
		path: "a/c", host: "site-c",
		want: map[string][]string{},
	}, {
		name:  "a host found holding the index's version is added to its record",
		index: []conflict.Record{{Entry: now, Hosts: []string{"site-a"}}},
		lags:  map[string]*wire.Entry{"site-c": &old},
		path:  "f.txt", host: "site-c", had: true, cur: &now,
		want: map[string][]string{"f.txt": {"site-a", "site-c"}},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := graceRun(t, 0)
			if err := r.h.db.PutIndex(r.cfg.Name, tc.index); err != nil {
				t.Fatal(err)
			}
			r.lags = map[string]map[string]*lag{tc.path: {}}
			for h, have := range tc.lags {
				r.lags[tc.path][h] = &lag{have: have}
			}
			rec, _, err := r.h.db.Index(r.cfg.Name, tc.path)
			if err != nil {
				t.Fatal(err)
			}
			// Caught up: no op goes out, so no broker is needed.
			r.repairHost(context.Background(), nil, tc.path, tc.host, r.lags[tc.path][tc.host], rec, tc.had, "site-a", tc.cur)
			if r.lagging(tc.path, tc.host) != nil {
				t.Errorf("%s still lags on %s", tc.host, tc.path)
			}
			for h := range tc.lags {
				if h != tc.host && r.lagging(tc.path, h) == nil {
					t.Errorf("%s no longer lags on %s; only %s caught up", h, tc.path, tc.host)
				}
			}
			got, err := r.h.db.LoadIndex(r.cfg.Name)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Errorf("index has %d records (%v), want %d (%v)", len(got), got, len(tc.want), tc.want)
			}
			for p, hosts := range tc.want {
				if rec, ok := got[p]; !ok || !slices.Equal(rec.Hosts, hosts) {
					t.Errorf("%s: record on %v (present %v), want on %v", p, rec.Hosts, ok, hosts)
				}
			}
		})
	}
}

// The story of make chaos, seed 4389 (second form), on the hub alone.
// site-a removed the folder a/c while site-b and site-c each had a file
// open for writing in it: both refused the removal, and the index kept
// a/c on them, both lagging. site-c's writer closed and the repair
// removed a/c there while site-b, its link cut, was leaving; then site-b
// came back with a/c and its file, which went to the File Conflict List.
// Its catch-up must leave a/c on every host or on none: the index that
// still listed site-c on a/c had it plan a/c for site-a only.
func TestCatchUpAfterARepairedRemoval(t *testing.T) {
	r := graceRun(t, 0)
	r.lags = map[string]map[string]*lag{}
	r.away = map[string]*awayHost{}
	a := wire.Entry{Path: "a", Kind: wire.KindDir, Mode: 0o755, Mtime: 1}
	ac := wire.Entry{Path: "a/c", Kind: wire.KindDir, Mode: 0o755, Mtime: 1}
	f1 := wire.Entry{Path: "a/c/f1.txt", Kind: wire.KindFile, Mode: 0o644, Size: 10, Mtime: 5}
	err := r.h.db.PutIndex(r.cfg.Name, []conflict.Record{{Entry: a, Hosts: []string{"site-a", "site-b", "site-c"}},
		{Entry: ac, Hosts: []string{"site-b", "site-c"}}, {Entry: f1, Hosts: []string{"site-b"}}})
	if err != nil {
		t.Fatal(err)
	}
	r.lags["a/c"] = map[string]*lag{"site-b": {have: &ac}, "site-c": {have: &ac}}
	rec, _, err := r.h.db.Index(r.cfg.Name, "a/c")
	if err != nil {
		t.Fatal(err)
	}
	// repairPath: only lagging hosts hold the record, so the index's
	// version is the removal; site-c's copy is gone.
	if !r.onlyLaggingHold("a/c", rec) {
		t.Fatalf("a/c's record %v: want it held by lagging hosts only", rec.Hosts)
	}
	r.repairHost(context.Background(), nil, "a/c", "site-c", r.lags["a/c"]["site-c"], rec, false, "", nil)
	r.goAway("site-b", time.Now())
	r.quarantine["a/c/f1.txt"] = true
	for _, h := range []string{"site-a", "site-c"} {
		r.h.agents[h].Connected = true
	}
	cu := &catchUp{ctx: context.Background(), cancel: func() {}, started: time.Now(), lagAt: map[string]*wire.Entry{}}
	r.away["site-b"].catching = cu
	plan := r.mergeCatchUp("site-b", cu, []wire.Entry{a, ac, f1}, map[string]bool{}, nil)

	holds := map[string]bool{"site-a": false, "site-b": true, "site-c": false} // a/c, as the hosts hold it
	for h := range holds {
		for _, op := range plan.Ops[h] {
			switch {
			case op.Kind == wire.OpMkdir && op.Path == "a/c":
				holds[h] = true
			case op.Kind == wire.OpDelete && (op.Path == "a/c" || op.Path == "a"):
				holds[h] = false
			}
		}
	}
	if holds["site-a"] != holds["site-b"] || holds["site-b"] != holds["site-c"] {
		t.Errorf("after the catch-up's ops, a/c is on %v; want it on every host or on none (ops %v)", holds, plan.Ops)
	}
}
