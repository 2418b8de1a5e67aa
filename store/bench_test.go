package store

import (
	"path/filepath"
	"testing"

	"github.com/peerlink/peerlink/conflict"
)

const benchN = 100_000

// BenchmarkIndexPut100k writes 100,000 records in one PutIndex into a fresh
// session index.
func BenchmarkIndexPut100k(b *testing.B) {
	recs := benchRecords(benchN)
	h, _ := newHub(b)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		must(b, h.ClearIndex("s"))
		b.StartTimer()
		must(b, h.PutIndex("s", recs))
	}
	b.ReportMetric(float64(usedBytes(b, h))/benchN, "bytes/path")
}

// BenchmarkIndexReplace100k swaps in a whole 100,000-record index.
func BenchmarkIndexReplace100k(b *testing.B) {
	m := make(map[string]conflict.Record, benchN)
	for _, r := range benchRecords(benchN) {
		m[r.Entry.Path] = r
	}
	h, _ := newHub(b)
	b.ReportAllocs()
	for b.Loop() {
		must(b, h.ReplaceIndex("s", m))
	}
}

// BenchmarkIndexLoad100k loads a 100,000-record index into a map.
func BenchmarkIndexLoad100k(b *testing.B) {
	h, _ := newHub(b)
	must(b, h.PutIndex("s", benchRecords(benchN)))
	b.ReportAllocs()
	for b.Loop() {
		m, err := h.LoadIndex("s")
		if err != nil || len(m) != benchN {
			b.Fatal(len(m), err)
		}
	}
}

// BenchmarkIndexAddHosts500 records a batch of 500 completed transfers.
func BenchmarkIndexAddHosts500(b *testing.B) {
	h, _ := newHub(b)
	must(b, h.PutIndex("s", benchRecords(benchN)))
	adds := make([]HostPath, 500)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		for j := range adds {
			adds[j] = HostPath{Host: "b", Path: benchPath(i % benchN)}
			i += 7
		}
		if _, err := h.AddIndexHosts("s", adds); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCacheLookup100k looks up 100,000 cached files in one reader, as
// a rescan of an unchanged tree does.
func BenchmarkCacheLookup100k(b *testing.B) {
	a, err := OpenAgent(filepath.Join(b.TempDir(), "agent.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	paths := make([]string, benchN)
	for i := 0; i < benchN; i += 10_000 {
		var batch []CachedPath
		for j := i; j < i+10_000; j++ {
			paths[j] = benchPath(j)
			batch = append(batch, CachedPath{paths[j], cached(j)})
		}
		must(b, a.UpdateCache("s", batch, nil))
	}
	b.ReportAllocs()
	for b.Loop() {
		r, err := a.BeginScan("s")
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range paths {
			if _, ok := r.Lookup(p); !ok {
				b.Fatal("miss", p)
			}
		}
		must(b, r.Close())
	}
}

// BenchmarkCacheUpdate100k writes 100,000 entries in batches of 1,000, as a
// first scan does.
func BenchmarkCacheUpdate100k(b *testing.B) {
	batches := make([][]CachedPath, 0, benchN/1000)
	for i := 0; i < benchN; i += 1000 {
		batch := make([]CachedPath, 1000)
		for j := range batch {
			batch[j] = CachedPath{benchPath(i + j), cached(i + j)}
		}
		batches = append(batches, batch)
	}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		a, err := OpenAgent(filepath.Join(b.TempDir(), "agent.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for _, batch := range batches {
			must(b, a.UpdateCache("s", batch, nil))
		}
		b.StopTimer()
		a.Close()
		b.StartTimer()
	}
}
