package hub

import (
	"context"
	"iter"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/sync/scan"
	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/wire"
)

func byTreeOrder(a, b wire.Entry) int { return conflict.ComparePaths(a.Path, b.Path) }

// TestSpoolSortsAcrossRuns: whatever order a scan arrives in, and however
// its runs fall, the spool yields it as one stable sort in tree order.
func TestSpoolSortsAcrossRuns(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 5))
	names := []string{"2024", "2024-old", "2024.txt", "a b", "a", "a/b", "a/b-c", "a/b/c", "a.d", "z", "ü", "a-", "a/-"}
	for trial := range 40 {
		in := make([]wire.Entry, rng.IntN(300))
		for i := range in {
			p := names[rng.IntN(len(names))]
			for rng.IntN(3) == 0 {
				p += "/" + names[rng.IntN(len(names))]
			}
			in[i] = wire.Entry{Path: p, Kind: wire.KindFile, Size: int64(i), Mtime: int64(trial)}
		}
		if trial%5 == 1 && len(in) > 0 {
			// Paths longer than a merged run's read buffer.
			long := strings.Repeat(strings.Repeat("x", 200)+"/", 19)
			in[0].Path, in[len(in)-1].Path = long+"a", long+strings.Repeat("y", 250)
		}
		if trial%4 == 0 {
			slices.SortStableFunc(in, byTreeOrder) // in order already
		}
		want := slices.Clone(in)
		slices.SortStableFunc(want, byTreeOrder)
		s, err := newSpool(t.TempDir(), "h")
		if err != nil {
			t.Fatal(err)
		}
		s.runLen = 1 + rng.IntN(40)
		for len(in) > 0 {
			k := min(len(in), rng.IntN(50))
			if err := s.add(in[:k]); err != nil {
				t.Fatal(err)
			}
			in = in[k:]
		}
		if err := s.done(); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if got := slices.Collect(s.Entries()); !slices.Equal(got, want) || s.err != nil {
				t.Fatalf("trial %d, runs of %d: spool yields\n%v (err %v)\nwant\n%v", trial, s.runLen, got, s.err, want)
			}
		}
		if err := s.close(); err != nil {
			t.Fatal(err)
		}
	}
}

// readCount is a Stream that counts how far each read of it went.
type readCount struct {
	s     conflict.Stream
	reads []int
}

func (c *readCount) Entries() iter.Seq[wire.Entry] {
	return func(yield func(wire.Entry) bool) {
		c.reads = append(c.reads, 0)
		for e := range c.s.Entries() {
			c.reads[len(c.reads)-1]++
			if !yield(e) {
				return
			}
		}
	}
}

// TestSpooledAgentScanMergesStreaming: a real agent's scan of a tree with
// siblings that sort between a folder and its contents (`2024-old` beside
// `2024`, `report.d` beside `report`) does not arrive in the engine's tree
// order, and its spool yields it in that order, so that the engine merges
// it as it reads it (each read goes to the end, where an unordered stream
// stops its check at the first path out of order and is read into memory),
// with the plan the same scan in memory gives.
func TestSpooledAgentScanMergesStreaming(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"2024/a.txt", "2024-old/b.txt", "2024.txt", "report/x", "report.d/y", "a b/c", "a/c", "a-/d", "z"} {
		p := filepath.Join(root, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := tree.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	s, err := newSpool(t.TempDir(), "site-a")
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	s.runLen = 4 // several runs, out of order among themselves
	var sent []wire.Entry
	if _, _, err := scan.Run(context.Background(), tr, scan.Options{Batch: 3}, func(part []wire.Entry) error {
		sent = append(sent, part...)
		return s.add(part)
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.done(); err != nil {
		t.Fatal(err)
	}
	if slices.IsSortedFunc(sent, byTreeOrder) {
		t.Fatalf("the agent's scan is in tree order already; the tree no longer tests the spool's sort: %v", sent)
	}
	got := slices.Collect(s.Entries())
	if !slices.IsSortedFunc(got, byTreeOrder) || len(got) != len(sent) {
		t.Fatalf("spool of the agent's scan yields, not in tree order or not all %d:\n%v", len(sent), got)
	}

	streamed := &readCount{s: s}
	hosts := []string{"site-a", "site-b"}
	plan := conflict.Resolve(conflict.Input{Hosts: hosts, Streams: map[string]conflict.Stream{"site-a": streamed}})
	if len(streamed.reads) != 2 || streamed.reads[0] != len(sent) || streamed.reads[1] != len(sent) {
		t.Errorf("the engine read the spool %v entries a read; want two whole reads of %d (check, then merge)", streamed.reads, len(sent))
	}
	inMemory := conflict.Resolve(conflict.Input{Hosts: hosts, Scans: map[string][]wire.Entry{"site-a": sent}})
	if !reflect.DeepEqual(plan, inMemory) {
		t.Errorf("plan from the spool\n%+v\nfrom the scan in memory\n%+v", plan, inMemory)
	}
}

// TestSpoolReaderGrowsForLongEntries: a reader whose buffer is smaller
// than an entry reads it whole.
func TestSpoolReaderGrowsForLongEntries(t *testing.T) {
	long := strings.Repeat(strings.Repeat("x", 200)+"/", 19)
	in := []wire.Entry{
		{Path: "a", Kind: wire.KindDir},
		{Path: "b", Kind: wire.KindFile},
		{Path: long + "a", Kind: wire.KindFile, Size: 1 << 50, Mtime: -1, Mode: 0o600, Hash: wire.Hash{7}},
		{Path: long + strings.Repeat("y", 250), Kind: wire.KindFile, Hash: wire.Hash{31: 1}},
	}
	s, err := newSpool(t.TempDir(), "h")
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if err := s.add(in); err != nil {
		t.Fatal(err)
	}
	if err := s.done(); err != nil {
		t.Fatal(err)
	}
	r := newSpoolReader(s.f, 0, s.size, 16)
	for i, want := range in {
		got, err := r.next(i == 0)
		if err != nil || got != want {
			t.Fatalf("entry %d: %+v, %v; want %+v", i, got, err, want)
		}
	}
	if _, err := r.next(false); err == nil {
		t.Error("a read past the run's end succeeded")
	}
}
