package hub

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/peerlink/peerlink/wire"
)

// link is a fake target behind a WAN, in a synctest bubble's fake time: an
// Apply reaches it half a round trip after it is sent, waits for the link
// (one batch crosses it at a time, perOp per op), and its reply takes the
// other half back.
type link struct {
	rtt, perOp time.Duration
	wire       chan struct{} // the link: one batch on it at a time
}

func (l *link) apply(ops []wire.Op) {
	time.Sleep(l.rtt / 2)
	l.wire <- struct{}{}
	time.Sleep(time.Duration(len(ops)) * l.perOp)
	<-l.wire
	time.Sleep(l.rtt / 2)
}

func fetches(n int) []wire.Op {
	ops := make([]wire.Op, n)
	for i := range ops {
		ops[i] = wire.Op{Kind: wire.OpFetch, Path: fmt.Sprintf("f%06d", i)}
	}
	return ops
}

// The round trips a start-up waits for do not grow with its files: the
// time beyond what the link needs to carry every batch is a couple of round
// trips, for 8 batches as for 100. With one Apply at a time it would be a
// round trip per batch (100 of them).
func TestPipelineRoundTripsDoNotGrowWithFiles(t *testing.T) {
	const (
		rtt   = 40 * time.Millisecond
		perOp = 50 * time.Microsecond // 4,096 ops: 205 ms on the link
		batch = 4096
	)
	for _, batches := range []int{8, 100} {
		synctest.Test(t, func(t *testing.T) {
			l := &link{rtt: rtt, perOp: perOp, wire: make(chan struct{}, 1)}
			ops := fetches(batches * batch)
			start := time.Now()
			err := pipeline(ops, batch, applyWindow, func(_ int, b []wire.Op) error { l.apply(b); return nil })
			if err != nil {
				t.Fatal(err)
			}
			waited := time.Since(start) - time.Duration(len(ops))*perOp
			if waited > 2*rtt {
				t.Errorf("%d batches: %v beyond the link's time, %.1f round trips; want at most 2", batches, waited, float64(waited)/float64(rtt))
			}
		})
	}
}

// A batch whose ops must run in order (mkdir, rename, delete) runs alone:
// every batch before it has ended when it starts, and none after it starts
// before it ends. Fetches and metadata changes overlap, up to the window.
func TestPipelineOrdersWhatMustRunInOrder(t *testing.T) {
	ops := fetches(10)
	ops[4].Kind = wire.OpMkdir
	var (
		mu       sync.Mutex
		running  []int // first op of each batch running
		most     int
		overlaps []string
	)
	err := pipeline(ops, 2, 3, func(first int, b []wire.Op) error {
		mu.Lock()
		if !parallelOnly(b) && len(running) > 0 || slices.ContainsFunc(running, func(f int) bool { return !parallelOnly(ops[f:min(f+2, len(ops))]) }) {
			overlaps = append(overlaps, fmt.Sprintf("batch %d with %v", first, running))
		}
		running = append(running, first)
		most = max(most, len(running))
		mu.Unlock()
		time.Sleep(5 * time.Millisecond) // let the others start if they may
		mu.Lock()
		running = slices.DeleteFunc(running, func(f int) bool { return f == first })
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(overlaps) > 0 {
		t.Errorf("a batch that must run alone overlapped: %v", overlaps)
	}
	if most > 3 {
		t.Errorf("%d batches in flight, window 3", most)
	}
}

// The folders a start-up makes go in Applies of their own: the fetches
// after them are not held in a batch that must run alone.
func TestPipelineBatchesDoNotMixOrderedAndParallel(t *testing.T) {
	ops := fetches(10)
	for i := range 3 {
		ops[i].Kind = wire.OpMkdir
	}
	var mu sync.Mutex
	var got [][2]int
	err := pipeline(ops, 4, 2, func(first int, b []wire.Op) error {
		mu.Lock()
		got = append(got, [2]int{first, len(b)})
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(got, func(a, b [2]int) int { return a[0] - b[0] })
	want := [][2]int{{0, 3}, {3, 4}, {7, 3}}
	if !slices.Equal(got, want) {
		t.Errorf("batches (first, length) %v, want %v", got, want)
	}
}

// The first error stops the sending: with one batch at a time, nothing is
// sent after the batch that failed.
func TestPipelineStopsAtFirstError(t *testing.T) {
	boom := errors.New("boom")
	var mu sync.Mutex
	sent := 0
	err := pipeline(fetches(100), 10, 1, func(first int, b []wire.Op) error {
		mu.Lock()
		sent++
		mu.Unlock()
		if first == 0 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v, want %v", err, boom)
	}
	if sent != 1 {
		t.Errorf("%d batches sent after the first failed", sent)
	}
}

// A live burst that reports each folder before its files costs a round
// trip for the folders and about one for the files, not one per folder.
func TestPipelineFoldersFirstBurst(t *testing.T) {
	const (
		rtt     = 40 * time.Millisecond
		perOp   = 50 * time.Microsecond
		folders = 200
	)
	var burst []wire.Op
	for d := range folders {
		dir := fmt.Sprintf("d%03d", d)
		burst = append(burst, wire.Op{Kind: wire.OpMkdir, Path: dir})
		for f := range 5 {
			burst = append(burst, wire.Op{Kind: wire.OpFetch, Path: fmt.Sprintf("%s/f%d", dir, f)})
		}
	}
	synctest.Test(t, func(t *testing.T) {
		l := &link{rtt: rtt, perOp: perOp, wire: make(chan struct{}, 1)}
		start := time.Now()
		if err := pipeline(foldersFirst(burst), applyBatch, applyWindow, func(_ int, b []wire.Op) error { l.apply(b); return nil }); err != nil {
			t.Fatal(err)
		}
		waited := time.Since(start) - time.Duration(len(burst))*perOp
		if waited > 3*rtt {
			t.Fatalf("a burst of %d folders waited %v beyond the link's time: %.1f round trips", folders, waited, float64(waited)/float64(rtt))
		}
	})
}

func TestFoldersFirst(t *testing.T) {
	op := func(k wire.OpKind, p string) wire.Op { return wire.Op{Kind: k, Path: p} }
	mk, fe, me, de, re := wire.OpMkdir, wire.OpFetch, wire.OpMeta, wire.OpDelete, wire.OpRename
	for _, tc := range []struct {
		name    string
		in, out []wire.Op
	}{
		{"folders before files", []wire.Op{op(mk, "a"), op(fe, "a/1"), op(mk, "b"), op(fe, "b/1"), op(me, "a")},
			[]wire.Op{op(mk, "a"), op(mk, "b"), op(fe, "a/1"), op(fe, "b/1"), op(me, "a")}},
		{"nothing crosses a delete", []wire.Op{op(fe, "x"), op(de, "x"), op(mk, "x"), op(fe, "x/1")},
			[]wire.Op{op(fe, "x"), op(de, "x"), op(mk, "x"), op(fe, "x/1")}},
		{"nothing crosses a rename", []wire.Op{op(fe, "a/1"), op(mk, "b"), op(re, "c"), op(fe, "c/2"), op(mk, "d")},
			[]wire.Op{op(mk, "b"), op(fe, "a/1"), op(re, "c"), op(mk, "d"), op(fe, "c/2")}},
		{"empty", nil, []wire.Op{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := foldersFirst(tc.in)
			if !slices.EqualFunc(got, tc.out, func(a, b wire.Op) bool { return a.Kind == b.Kind && a.Path == b.Path }) {
				t.Fatalf("foldersFirst = %v, want %v", got, tc.out)
			}
		})
	}
}
