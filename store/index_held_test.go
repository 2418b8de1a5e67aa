package store

import (
	"fmt"
	"maps"
	"testing"

	"github.com/peerlink/peerlink/conflict"
)

// TestIndexHeldCountsEachHostsRecords: IndexHeld says, per host, how many
// records list it, as a walk of the decoded records does; a session
// without an index holds nothing.
func TestIndexHeldCountsEachHostsRecords(t *testing.T) {
	h, _ := newHub(t)
	defer h.Close()
	must(t, h.PutIndex("s", nil))
	empty, err := h.IndexHeld("s")
	if err != nil || len(empty) != 0 {
		t.Fatalf("IndexHeld of an empty index = %v, %v", empty, err)
	}
	must(t, h.PutIndex("s", nil))
	for i := range 300 {
		hosts := [][]string{{"a"}, {"a", "b"}, {"b", "c"}, {}, {"c"}}[i%5]
		must(t, h.PutIndex("s", []conflict.Record{fileRec(fmt.Sprintf("d/f%03d", i), int64(i), hosts...)}))
	}
	must(t, h.PutIndex("s", []conflict.Record{dirRec("d", "a", "b", "c")}))
	want := map[string]int64{}
	must(t, h.ForEachIndex("s", "", func(rec conflict.Record) error {
		for _, host := range rec.Hosts {
			want[host]++
		}
		return nil
	}))
	got, err := h.IndexHeld("s")
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) || got["a"] != 121 {
		t.Errorf("IndexHeld = %v, want %v (a: 121)", got, want)
	}
	if none, err := h.IndexHeld("no-such-session"); err != nil || len(none) != 0 {
		t.Errorf("IndexHeld of a session without an index = %v, %v", none, err)
	}
}
