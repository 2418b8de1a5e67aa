package hub

import (
	"testing"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/wire"
)

// A host's reports sent before its start-up scan walked (make chaos, seed
// 30224: a folder's removal, reported 20 ms after the scan began, that the
// merge had undone) are dropped, counted as taken in, until its first
// report above the scan's mark; another host's, and a host's without a
// mark, are carried.
func TestReportsTheStartupScanCoveredAreNotCarried(t *testing.T) {
	r := &run{log: zerolog.Nop()}
	r.scanned.set("site-a", 10)
	r.scanned.set("site-c", 0) // an agent that does not tell
	changes := func(seq uint64) *wire.Changes {
		return &wire.Changes{Session: "s", Seq: seq, Changes: []wire.Change{{Kind: wire.ChangeRemove, Path: "a"}}}
	}
	steps := []struct {
		host string
		seq  uint64
		drop bool
	}{
		{"site-b", 3, false},
		{"site-c", 3, false},
		{"site-a", 9, true},
		{"site-a", 10, true},
		{"site-a", 11, false},
		// A new attachment numbering anew below the old mark: the mark
		// ended with the first report above it.
		{"site-a", 4, false},
	}
	for _, s := range steps {
		if got := r.scannedBefore(s.host, changes(s.seq)); got != s.drop {
			t.Errorf("%s's report %d dropped: %v, want %v", s.host, s.seq, got, s.drop)
		}
	}
	if got := r.seen.get("site-a"); got != 10 {
		t.Errorf("site-a's reports taken in up to %d, want 10: the dropped ones count as seen", got)
	}
	r.scanned.set("site-b", 7)
	r.scanned.forget("site-b")
	if r.scannedBefore("site-b", changes(5)) {
		t.Error("the report of a host that left after its scan dropped")
	}
}
