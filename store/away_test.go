package store

import (
	"testing"
	"time"

	"github.com/peerlink/peerlink/conflict"
)

// The ledger of an away host keeps, for each path the index changes after
// the host left, the record before the first such change, and nothing for
// writes made before it left or after it is cleared.
func TestAwayLedgerKeepsTheRecordBeforeTheFirstChange(t *testing.T) {
	h, _ := newHub(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(h.PutIndex("s", []conflict.Record{fileRec("kept", 1, "a", "b"), fileRec("edited", 2, "a", "b"),
		fileRec("gone", 3, "a", "b"), dirRec("dir", "a", "b"), fileRec("dir/f", 4, "a", "b")}))
	since := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	must(h.MarkAway("s", "b", since))
	must(h.PutIndex("s", []conflict.Record{fileRec("edited", 20, "a")}))
	must(h.PutIndex("s", []conflict.Record{fileRec("edited", 200, "a")})) // the first change's base stays
	must(h.PutIndex("s", []conflict.Record{fileRec("new", 5, "a")}))
	must(h.DeleteIndex("s", []string{"gone"}))
	if _, err := h.MoveIndex("s", "dir", "moved"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddIndexHosts("s", []HostPath{{"a", "kept"}}); err != nil { // the entry stays: not a change
		t.Fatal(err)
	}

	away, err := h.AwayHosts("s")
	must(err)
	if !away["b"].Equal(since) || len(away) != 1 {
		t.Fatalf("away hosts = %v, want b since %v", away, since)
	}
	got, err := h.AwayLedger("s", "b")
	must(err)
	want := map[string]AwayBase{
		"edited":  {Had: true, Record: fileRec("edited", 2, "a", "b")},
		"new":     {},
		"gone":    {Had: true, Record: fileRec("gone", 3, "a", "b")},
		"dir":     {Had: true, Record: dirRec("dir", "a", "b")},
		"dir/f":   {Had: true, Record: fileRec("dir/f", 4, "a", "b")},
		"moved":   {},
		"moved/f": {},
	}
	if len(got) != len(want) {
		t.Fatalf("ledger = %v, want %v", got, want)
	}
	for p, w := range want {
		g, ok := got[p]
		if !ok || g.Had != w.Had || (w.Had && !sameRecord(g.Record, w.Record)) {
			t.Errorf("ledger[%s] = %+v (present %v), want %+v", p, g, ok, w)
		}
	}
	if n, err := h.AwayCount("s", "b"); err != nil || n != len(want) {
		t.Errorf("AwayCount = %d, %v; want %d", n, err, len(want))
	}
	must(h.ResetAway("s", "b", map[string]AwayBase{"edited": {}}))
	if n, _ := h.AwayCount("s", "b"); n != 1 {
		t.Errorf("AwayCount after ResetAway = %d, want 1", n)
	}
	if away, _ := h.AwayHosts("s"); !away["b"].Equal(since) {
		t.Errorf("ResetAway changed the time: %v", away)
	}
	must(h.ClearAway("s", "b"))
	must(h.PutIndex("s", []conflict.Record{fileRec("later", 6, "a")}))
	if got, _ := h.AwayLedger("s", "b"); len(got) != 0 {
		t.Errorf("ledger after ClearAway = %v, want empty", got)
	}
	if away, _ := h.AwayHosts("s"); len(away) != 0 {
		t.Errorf("away hosts after ClearAway = %v", away)
	}
}

// A catch-up op that landed joins its host to the record only if the
// index still holds what it brought; otherwise the host's ledger says what
// it holds now, for its next round.
func TestCatchUpAppliedChecksTheIndexAsItIsNow(t *testing.T) {
	h, _ := newHub(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(h.PutIndex("s", []conflict.Record{fileRec("same", 1, "a"), fileRec("moved-on", 2, "a")}))
	must(h.MarkAway("s", "b", time.Now()))
	must(h.PutAway("s", "b", map[string]AwayBase{"same": {}, "moved-on": {}, "deleted": {Had: true, Record: fileRec("deleted", 3, "a", "b")}}))
	brought := fileRec("moved-on", 2, "a").Entry
	must(h.PutIndex("s", []conflict.Record{fileRec("moved-on", 20, "a")})) // a live change meanwhile
	same := fileRec("same", 1, "a").Entry
	must(h.CatchUpApplied("s", "b", []CaughtUp{{Path: "same", Entry: &same}, {Path: "moved-on", Entry: &brought}, {Path: "deleted"}}, []string{"a", "b"}))

	if rec, _, _ := h.Index("s", "same"); !sameRecord(rec, fileRec("same", 1, "a", "b")) {
		t.Errorf("same: %+v, want b added", rec)
	}
	if rec, _, _ := h.Index("s", "moved-on"); !sameRecord(rec, fileRec("moved-on", 20, "a")) {
		t.Errorf("moved-on: %+v, want the live change's record, without b", rec)
	}
	ledger, err := h.AwayLedger("s", "b")
	must(err)
	if len(ledger) != 1 || !ledger["moved-on"].Had || ledger["moved-on"].Record.Entry != brought {
		t.Errorf("ledger %+v, want only moved-on, as b now holds it", ledger)
	}
}
