package conflict

import (
	"testing"

	"github.com/peerlink/peerlink/wire"
)

// A lagging copy a user changed or deleted meanwhile is quarantined with
// what is known of each version: never a nil copy dereferenced.
func TestLagConflict(t *testing.T) {
	cur := &wire.Entry{Path: "f", Kind: wire.KindFile, Size: 3}
	rec := Record{Entry: wire.Entry{Path: "f", Kind: wire.KindFile, Size: 5}, Hosts: []string{"site-a"}}
	for _, tc := range []struct {
		cur    *wire.Entry
		had    bool
		detail string
		copies int
	}{
		{cur, true, "changed on site-b while site-a's version was being applied", 2},
		{nil, true, "deleted on site-b while site-a's version was being applied", 1},
		{cur, false, "changed on site-b while its removal elsewhere was being applied", 1},
	} {
		detail, copies := lagConflict("site-b", tc.cur, "site-a", rec, tc.had)
		if detail != tc.detail || len(copies) != tc.copies {
			t.Errorf("lagConflict(%v, had %v) = %q, %d copies; want %q, %d", tc.cur, tc.had, detail, len(copies), tc.detail, tc.copies)
		}
	}
}

func TestRepair(t *testing.T) {
	old, now := F("f", "old", 1), F("f", "new", 2)
	touched := nsTime(old, at(5)) // old content, new time: a meta change
	user := F("f", "user", 3)
	dir := D("d")
	recNow := R(now, "a")
	for _, tc := range []struct {
		name      string
		cur, have *wire.Entry
		rec       Record
		had       bool
		kind      RepairKind
		op        wire.OpKind
	}{
		{"already the index's version", &now, &old, recNow, true, RepairCaughtUp, 0},
		{"gone as the index says", nil, &old, Record{}, false, RepairCaughtUp, 0},
		{"still the old copy: fetched", &old, &old, recNow, true, RepairApply, wire.OpFetch},
		{"missing as left: fetched", nil, nil, recNow, true, RepairApply, wire.OpFetch},
		{"still there though removed: deleted", &old, &old, Record{}, false, RepairApply, wire.OpDelete},
		{"same content, other time: meta", &touched, &touched, R(old, "a"), true, RepairApply, wire.OpMeta},
		{"a folder missing: made", nil, nil, R(dir, "a"), true, RepairApply, wire.OpMkdir},
		{"changed by a user meanwhile", &user, &old, recNow, true, RepairConflict, 0},
		{"deleted by a user meanwhile", nil, &old, recNow, true, RepairConflict, 0},
		{"changed by a user though removed elsewhere", &user, &old, Record{}, false, RepairConflict, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Repair("f", "b", "a", tc.cur, tc.have, tc.rec, tc.had)
			if d.Kind != tc.kind {
				t.Fatalf("Repair = %+v, want kind %d", d, tc.kind)
			}
			switch d.Kind {
			case RepairApply:
				if d.Op.Kind != tc.op || d.Op.Path != "f" {
					t.Fatalf("Repair op = %+v, want %v on f", d.Op, tc.op)
				}
				if d.Op.Kind == wire.OpFetch && (d.Op.From != "a" || d.Op.Want != tc.rec.Entry) {
					t.Fatalf("Repair fetch = %+v, want the index's version from a", d.Op)
				}
			case RepairConflict:
				if d.Reason != ReasonConcurrentEdit || d.Why == "" || len(d.Copies) == 0 {
					t.Fatalf("Repair conflict = %+v", d)
				}
			}
		})
	}
}
