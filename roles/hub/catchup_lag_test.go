package hub

import (
	"context"
	"crypto/sha256"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// A catch-up's merge against the lags of the live hosts, without a
// broker: site-a and site-b are live, site-c is back and catching up; the
// merge (mergeCatchUp) reads the index and site-c's ledger from hub.db and
// plans the round.

// catchUpRun returns the run, with the index holding before when site-c
// left, and site-c's catch-up.
func catchUpRun(t *testing.T, opt conflict.Options, before ...conflict.Record) (*run, *catchUp) {
	t.Helper()
	h, err := Open(Config{DataDir: t.TempDir(), Log: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.db.Close() })
	opt.Resolver = conflict.LastModified
	cfg := api.SessionConfig{Name: "s", Options: opt,
		Hosts: []api.HostRoot{{Host: "site-a", Root: "/a"}, {Host: "site-b", Root: "/b"}, {Host: "site-c", Root: "/c"}}}
	on := true
	cfg.TargetProtection = &on
	if err := h.db.PutSession(toStore(cfg)); err != nil {
		t.Fatal(err)
	}
	r := newRun(h, cfg, func() {})
	r.base = context.Background()
	r.lags = map[string]map[string]*lag{}
	t.Cleanup(r.events.close)
	putIndex(t, r, before...)
	since := time.Now().Add(-time.Hour)
	if err := h.db.MarkAway("s", "site-c", since); err != nil {
		t.Fatal(err)
	}
	cu := &catchUp{ctx: context.Background(), cancel: func() {}, started: time.Now(), lagAt: map[string]*wire.Entry{}}
	r.away["site-c"] = &awayHost{since: since, catching: cu}
	return r, cu
}

func dirEntry(p string, mode uint32) wire.Entry {
	return wire.Entry{Path: p, Kind: wire.KindDir, Mtime: time.Unix(1_700_000_000, 0).UnixNano(), Mode: mode}
}

func fileEntry(p, content string, sec int64) wire.Entry {
	return wire.Entry{Path: p, Kind: wire.KindFile, Size: int64(len(content)), Mtime: time.Unix(sec, 0).UnixNano(), Mode: 0o644,
		Hash: sha256.Sum256([]byte(content))}
}

func putIndex(t *testing.T, r *run, recs ...conflict.Record) {
	t.Helper()
	if err := r.h.db.PutIndex(r.cfg.Name, recs); err != nil {
		t.Fatal(err)
	}
}

// opsAt returns the kinds of host's ops at path, in order.
func opsAt(plan *conflict.Plan, host, path string) []wire.OpKind {
	var kinds []wire.OpKind
	for _, op := range plan.Ops[host] {
		if op.Path == path {
			kinds = append(kinds, op.Kind)
		}
	}
	return kinds
}

// A folder site-b lags on (its mode change failed there) is left to the
// repair, but what is below it is merged: a file created elsewhere while
// site-c was away reaches it, and the file site-c made there while away
// goes out. Left out of the merge with the folder, neither would ever
// have crossed, site-c's ledger being reset by the merge (make chaos,
// seed 5122).
func TestCatchUpMergesBelowALaggingFolder(t *testing.T) {
	abc := []string{"site-a", "site-b", "site-c"}
	d, dx, dnew := dirEntry("d", 0o755), fileEntry("d/x", "x", 1_700_000_000), fileEntry("d/new", "new", 1_700_000_100)
	r, cu := catchUpRun(t, conflict.Options{OfflineDeleteDetection: true},
		conflict.Record{Entry: d, Hosts: []string{"site-a", "site-c"}}, conflict.Record{Entry: dx, Hosts: abc})
	r.lags["d"] = map[string]*lag{"site-b": {have: new(dirEntry("d", 0o700)), due: time.Now()}}
	// Created on site-a while site-c was away: its ledger notes it.
	putIndex(t, r, conflict.Record{Entry: dnew, Hosts: []string{"site-a", "site-b"}})
	if ledger, err := r.h.db.AwayLedger("s", "site-c"); err != nil || len(ledger) != 1 || ledger["d/new"].Had {
		t.Fatalf("site-c's ledger %v (%v), want d/new, not held", ledger, err)
	}
	mine := fileEntry("d/mine", "mine", 1_700_000_200)
	plan := r.mergeCatchUp("site-c", cu, []wire.Entry{d, dx, mine}, map[string]bool{}, nil)

	if got := opsAt(plan, "site-c", "d/new"); !slices.Equal(got, []wire.OpKind{wire.OpFetch}) {
		t.Errorf("site-c's ops at d/new: %v, want a fetch (plan %v)", got, plan.Ops)
	}
	for _, h := range []string{"site-a", "site-b"} {
		if got := opsAt(plan, h, "d/mine"); !slices.Equal(got, []wire.OpKind{wire.OpFetch}) {
			t.Errorf("%s's ops at d/mine: %v, want a fetch (plan %v)", h, got, plan.Ops)
		}
	}
	for _, h := range abc {
		if got := opsAt(plan, h, "d"); len(got) > 0 {
			t.Errorf("%s's ops at the lagging folder d: %v, want none: the repair's", h, got)
		}
	}
	rec, had, err := r.h.db.Index("s", "d")
	if err != nil || !had || rec.Entry != d || !slices.Equal(rec.Hosts, []string{"site-a", "site-c"}) {
		t.Errorf("d's record after the merge: %+v (present %v, %v), want it as it was", rec, had, err)
	}
	if l := r.lags["d"]["site-b"]; l == nil {
		t.Errorf("site-b's lag on d is gone: %v", r.lags)
	}
	if _, ok := cu.lagAt["d"]; ok {
		t.Errorf("site-c lags on d, whose index version it holds: %v", cu.lagAt)
	}
}

// An offline rename that a catch-up's merge carries out moves site-c's
// lags below the renamed folder with the index's records: left at the old
// path, where no record is any more, the renamed file would never be
// repaired. Here site-c changed o/x's mode while site-a's user had it open
// (an earlier round left it to lag there), then renamed o to n.
func TestCatchUpRenameMovesLags(t *testing.T) {
	abc := []string{"site-a", "site-b", "site-c"}
	o, ox, oy := dirEntry("o", 0o755), fileEntry("o/x", "x", 1_700_000_000), fileEntry("o/y", "y", 1_700_000_000)
	r, cu := catchUpRun(t, conflict.Options{OfflineRenameDetection: true},
		conflict.Record{Entry: o, Hosts: abc}, conflict.Record{Entry: ox, Hosts: abc}, conflict.Record{Entry: oy, Hosts: abc})
	mineX := ox
	mineX.Mode = 0o600
	cu.lagAt["o/x"] = new(mineX)
	cu.lagAt["other"] = nil
	scan := []wire.Entry{dirEntry("n", 0o755), mineX, oy}
	scan[1].Path, scan[2].Path = "n/x", "n/y"
	plan := r.mergeCatchUp("site-c", cu, scan, map[string]bool{}, nil)

	for _, h := range []string{"site-a", "site-b"} {
		if !slices.ContainsFunc(plan.Ops[h], func(op wire.Op) bool { return op.Kind == wire.OpRename && op.OldPath == "o" && op.Path == "n" }) {
			t.Fatalf("%s's ops %v: want the rename of o to n", h, plan.Ops[h])
		}
	}
	if _, ok := cu.lagAt["o/x"]; ok {
		t.Errorf("site-c still lags at o/x, which the rename moved: %v", cu.lagAt)
	}
	if have, ok := cu.lagAt["n/x"]; !ok || have == nil || have.Path != "n/x" || have.Mode != 0o600 {
		t.Errorf("site-c's lag at n/x: %+v (present %v), want its copy named n/x", have, ok)
	}
	if have, ok := cu.lagAt["other"]; !ok || have != nil {
		t.Errorf("site-c's lag at other: %+v (present %v), want it as it was", have, ok)
	}
}
