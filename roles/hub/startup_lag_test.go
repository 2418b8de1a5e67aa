package hub

import (
	"testing"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/wire"
)

// A start-up's fetch that failed on its targets because the source renamed
// the file's folder as they read it (make chaos, seed 81033) leaves them
// lagging; the live rename that follows moves their lags with the record,
// so that the repair brings the file to them at its new path. Without the
// lags, the index moved the record with the source alone and nothing ever
// sent the file to the others.
func TestStartFailuresLagAndFollowARename(t *testing.T) {
	r := graceRun(t, 0)
	all := []string{"site-a", "site-b", "site-c"}
	putIndex(t, r, conflict.Record{Entry: folder("a"), Hosts: all}, conflict.Record{Entry: folder("b"), Hosts: all},
		conflict.Record{Entry: file("b/f2.txt", 1), Hosts: []string{"site-c"}})
	fetch := wire.Op{Kind: wire.OpFetch, Path: "b/f2.txt", From: "site-c", Want: file("b/f2.txt", 1)}
	gone := &wire.Error{Kind: wire.KindNotFound, Op: "read", Host: "site-c", Path: "b/f2.txt", Msg: "no such file or directory"}
	for _, h := range []string{"site-a", "site-b"} {
		r.leftBehind(h, []wire.Op{fetch}, []wire.OpResult{{Kind: wire.OpFetch, Path: "b/f2.txt", Error: gone}})
	}
	r.lags = map[string]map[string]*lag{} // as the live loop starts
	r.lagStartFailures()

	targets := []string{"site-a", "site-b"}
	batch := []wire.Change{{Kind: wire.ChangeRename, Path: "a/c2", OldPath: "b", Entry: folder("a/c2")}}
	done, _ := r.decide("site-c", targets, batch)
	r.indexChanges("site-c", targets, done, map[string]map[string]bool{"a/c2": {"site-a": true, "site-b": true}})
	for _, h := range targets {
		if l := r.lagging("a/c2/f2.txt", h); l == nil || l.have != nil {
			t.Errorf("%s: lag at the new path %+v, want one holding nothing", h, l)
		}
	}
	if len(r.lags) != 1 {
		t.Errorf("lags at %v, want a/c2/f2.txt only", r.lags)
	}
}

// Which failures of a start-up's op leave the target to the live repair.
func TestStartFailuresThatLag(t *testing.T) {
	for _, tc := range []struct {
		name string
		kind wire.OpKind
		err  wire.Error
		lags bool
	}{
		{"a fetch whose source lost the file", wire.OpFetch, wire.Error{Kind: wire.KindNotFound, Host: "site-c"}, true},
		{"a fetch whose source saved again", wire.OpFetch, wire.Error{Kind: wire.KindChanged, Host: "site-c"}, true},
		{"a fetch over a copy the target's user changed", wire.OpFetch, wire.Error{Kind: wire.KindChanged, Host: "site-a"}, false},
		{"a fetch of a file open for writing on the target", wire.OpFetch, wire.Error{Kind: wire.KindOpen, Host: "site-a"}, false},
		{"a mkdir the target could not make", wire.OpMkdir, wire.Error{Kind: wire.KindPermission, Host: "site-a"}, true},
		{"a mode change the target could not make", wire.OpMeta, wire.Error{Kind: wire.KindPermission, Host: "site-a"}, true},
		{"a removal", wire.OpDelete, wire.Error{Kind: wire.KindPermission, Host: "site-a"}, false},
		{"a rename", wire.OpRename, wire.Error{Kind: wire.KindNotFound, Host: "site-a"}, false},
	} {
		res := wire.OpResult{Kind: tc.kind, Path: "p", Error: &tc.err}
		if got := lagsAfterStart("site-a", res); got != tc.lags {
			t.Errorf("%s: lags %v, want %v", tc.name, got, tc.lags)
		}
	}
}
