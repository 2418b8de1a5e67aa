package hub

import (
	"maps"
	"slices"
	"testing"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/wire"
)

// A merge among some hosts must not drop what only the others hold: their
// ledgers would read a dropped record as deleted while they were away,
// and their return would delete their copy (make chaos, seed 1008).
func TestKeepAwayHosts(t *testing.T) {
	f := func(p string, size int64) wire.Entry { return wire.Entry{Path: p, Kind: wire.KindFile, Size: size} }
	current := map[string]conflict.Record{
		"only-away":    {Entry: f("only-away", 1), Hosts: []string{"c"}},
		"deleted":      {Entry: f("deleted", 1), Hosts: []string{"a", "c"}},
		"unchanged":    {Entry: f("unchanged", 1), Hosts: []string{"a", "c"}},
		"changed":      {Entry: f("changed", 1), Hosts: []string{"a", "c"}},
		"away-deleted": {Entry: f("away-deleted", 1), Hosts: []string{"c"}},
	}
	plan := conflict.Plan{
		Index: map[string]conflict.Record{
			"unchanged": {Entry: f("unchanged", 1), Hosts: []string{"a", "b"}},
			"changed":   {Entry: f("changed", 2), Hosts: []string{"a", "b"}},
		},
		Ops: map[string][]wire.Op{"b": {{Kind: wire.OpDelete, Path: "away-deleted"}}},
	}
	keepAwayHosts(plan, current, []string{"a", "b"})
	for _, tc := range []struct {
		path  string
		hosts []string // nil: no record
	}{
		{"only-away", []string{"c"}},
		{"deleted", nil},
		{"unchanged", []string{"a", "b", "c"}},
		{"changed", []string{"a", "b"}},
		{"away-deleted", nil},
	} {
		rec, ok := plan.Index[tc.path]
		if ok != (tc.hosts != nil) || ok && !slices.Equal(rec.Hosts, tc.hosts) {
			t.Errorf("%s: record %v (present %v), want hosts %v", tc.path, rec, ok, tc.hosts)
		}
	}
	if rec := plan.Index["only-away"]; rec.Entry != current["only-away"].Entry {
		t.Errorf("only-away: entry %v, want it unchanged", rec.Entry)
	}
}

// What the live hosts deleted while a host was away is deleted there too,
// except a version only that host ever held, which nobody deleting it saw
// (make chaos, seed 5533).
func TestAwayDeleted(t *testing.T) {
	f := func(p string, size int64) wire.Entry { return wire.Entry{Path: p, Kind: wire.KindFile, Size: size} }
	ledger := map[string]store.AwayBase{
		"deleted":      {Had: true, Record: conflict.Record{Entry: f("deleted", 1), Hosts: []string{"a", "c"}}},
		"only-mine":    {Had: true, Record: conflict.Record{Entry: f("only-mine", 2), Hosts: []string{"c"}}},
		"not-mine":     {Had: true, Record: conflict.Record{Entry: f("not-mine", 3), Hosts: []string{"a"}}},
		"new-since":    {Had: false},
		"still-there":  {Had: true, Record: conflict.Record{Entry: f("still-there", 4), Hosts: []string{"c"}}},
		"changed-here": {Had: true, Record: conflict.Record{Entry: f("changed-here", 5), Hosts: []string{"a", "b", "c"}}},
	}
	current := map[string]conflict.Record{"still-there": {Entry: f("still-there", 6), Hosts: []string{"a"}}}
	deleted, only := awayDeleted("c", ledger, current)
	want := map[string]wire.Entry{"deleted": f("deleted", 1), "changed-here": f("changed-here", 5)}
	if !maps.Equal(deleted, want) {
		t.Errorf("deleted %v, want %v", deleted, want)
	}
	if !maps.Equal(only, map[string]bool{"only-mine": true}) {
		t.Errorf("held by the host alone: %v, want only-mine", only)
	}
}
