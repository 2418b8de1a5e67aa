package conflict

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/peerlink/peerlink/wire"
)

func TestClosed(t *testing.T) {
	v1, v2 := F("a", "one", 1), F("a", "two", 2)
	for _, tc := range []struct {
		name  string
		e     *wire.Entry
		prior Record
		had   bool
		want  *wire.Entry
	}{
		{"closed without changes", nil, R(v1, "x"), true, nil},
		{"a new version is a modification", &v2, R(v1, "x"), true, &v2},
		{"the index's own version is none", &v1, R(v1, "x"), true, nil},
		{"a path the index lacks is a modification", &v1, Record{}, false, &v1},
		{"an unreadable index record counts as none", &v1, R(v1, "x"), false, &v1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Closed(tc.e, tc.prior, tc.had)
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Fatalf("Closed = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSettleClose(t *testing.T) {
	v1, v2 := F("a", "one", 1), F("a", "two", 2)
	for _, tc := range []struct {
		name   string
		closed map[string]*wire.Entry
		want   CloseDecision
	}{
		{"nobody wrote", map[string]*wire.Entry{"x": nil}, CloseDecision{Kind: CloseUnchanged}},
		{"two writers, neither wrote", map[string]*wire.Entry{"x": nil, "y": nil}, CloseDecision{Kind: CloseUnchanged}},
		{"the source wrote", map[string]*wire.Entry{"x": &v1}, CloseDecision{Kind: ClosePropagate, Source: "x", Entry: v1}},
		{"only the second writer wrote", map[string]*wire.Entry{"x": nil, "y": &v2}, CloseDecision{Kind: ClosePropagate, Source: "y", Entry: v2}},
		{"both wrote", map[string]*wire.Entry{"y": &v2, "x": &v1}, CloseDecision{Kind: CloseConflict,
			Copies: []Copy{{"x", v1}, {"y", v2}}, Reason: ReasonConcurrentEdit, Why: "modified at the same time on x and y"}},
		{"three writers, two wrote", map[string]*wire.Entry{"z": &v2, "x": nil, "y": &v1}, CloseDecision{Kind: CloseConflict,
			Copies: []Copy{{"y", v1}, {"z", v2}}, Reason: ReasonConcurrentEdit, Why: "modified at the same time on y and z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := SettleClose(tc.closed)
			if got.Kind != tc.want.Kind || got.Source != tc.want.Source || got.Entry != tc.want.Entry ||
				!slices.Equal(got.Copies, tc.want.Copies) || got.Reason != tc.want.Reason || got.Why != tc.want.Why {
				t.Fatalf("SettleClose = %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestSettleCloseProperties: whatever the writers reported, no modified
// copy is ever dropped unseen: exactly one is propagated as it was
// reported, or all of them are quarantined, or there were none.
func TestSettleCloseProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	hosts := []string{"a", "b", "c", "d"}
	for range 2000 {
		closed := map[string]*wire.Entry{}
		modified := 0
		for _, h := range hosts[:1+rng.IntN(len(hosts))] {
			if rng.IntN(2) == 0 {
				closed[h] = nil
				continue
			}
			e := F("p", h+string(rune('0'+rng.IntN(10))), float64(rng.IntN(100)))
			closed[h] = &e
			modified++
		}
		d := SettleClose(closed)
		switch modified {
		case 0:
			if d.Kind != CloseUnchanged {
				t.Fatalf("%v: nothing modified, got %+v", closed, d)
			}
		case 1:
			if d.Kind != ClosePropagate || closed[d.Source] == nil || *closed[d.Source] != d.Entry {
				t.Fatalf("%v: one modified, got %+v", closed, d)
			}
		default:
			if d.Kind != CloseConflict || len(d.Copies) != modified {
				t.Fatalf("%v: %d modified, got %+v", closed, modified, d)
			}
			for _, c := range d.Copies {
				if closed[c.Host] == nil || *closed[c.Host] != c.Entry {
					t.Fatalf("%v: copy %+v is not what %s reported", closed, c, c.Host)
				}
			}
		}
	}
}

func TestBurst(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	g := Guard{Percent: 50, Min: 10}
	var b Burst
	b = b.Add(6, t0)
	b = b.Add(6, t0.Add(30*time.Second))
	if b.Files != 12 {
		t.Fatalf("removes 30 s apart: burst of %d files, want 12", b.Files)
	}
	if !g.Reached(b.Files) {
		t.Fatalf("12 files should reach a guard of min 10")
	}
	if r, trip := g.BurstTrip(b, false, 20); !trip || r != HeldMassDelete {
		t.Fatalf("12 of 20 files: %q %v, want a mass delete", r, trip)
	}
	if _, trip := g.BurstTrip(b, false, 100); trip {
		t.Fatalf("12 of 100 files tripped a 50%% guard")
	}
	b = b.Add(1, t0.Add(30*time.Second+BurstWindow+time.Second))
	if b.Files != 1 {
		t.Fatalf("after a pause longer than the window: burst of %d files, want 1", b.Files)
	}
	if g.Reached(b.Files) {
		t.Fatalf("1 file reached a guard of min 10")
	}
	if r, trip := g.BurstTrip(b, true, 0); !trip || r != HeldMassDelete {
		t.Fatalf("a host already held: %q %v, want every delete held", r, trip)
	}
	if (Guard{Percent: 100, Min: 1}).Reached(1000) {
		t.Fatalf("a guard at 100%% is off, yet reached")
	}
}

func TestLiveRemovesAndWithoutHeld(t *testing.T) {
	batch := []wire.Change{
		{Kind: wire.ChangeRemove, Path: "q/file"},
		{Kind: wire.ChangeWrite, Path: "held/new", Entry: F("held/new", "x", 1)},
		{Kind: wire.ChangeRemove, Path: "held/old"},
		{Kind: wire.ChangeRemove, Path: "kept"},
		{Kind: wire.ChangeRemove, Path: "held"},
	}
	quarantined := func(p string) bool { return UnderAny(p, map[string]bool{"q": true}) }
	if got, want := LiveRemoves(batch, quarantined), []int{2, 3, 4}; !slices.Equal(got, want) {
		t.Fatalf("LiveRemoves = %v, want %v", got, want)
	}
	out := WithoutHeld(batch, map[string]bool{"held": true})
	var paths []string
	for _, ch := range out {
		paths = append(paths, ch.Path)
	}
	if want := []string{"q/file", "held/new", "kept"}; !slices.Equal(paths, want) {
		t.Fatalf("WithoutHeld kept %v, want %v (a write below a held folder is no deletion)", paths, want)
	}
	if len(batch) != 5 {
		t.Fatalf("WithoutHeld changed its input")
	}
}
