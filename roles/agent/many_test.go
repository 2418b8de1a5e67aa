package agent

import (
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/peerlink/peerlink/wire"
)

// wan is a fake link to the source agent, in a synctest bubble's fake time:
// a request reaches the source half a round trip after it is sent, its
// answer takes the link (one at a time, perByte per byte of content) and
// then the other half back.
type wan struct {
	rtt, perByte time.Duration
	link         chan struct{}

	mu       sync.Mutex
	requests int
	bytes    int64
}

func (w *wan) fetch(batch []wire.Op) {
	var size int64
	for i := range batch {
		size += batch[i].Want.Size
	}
	w.mu.Lock()
	w.requests++
	w.bytes += size
	w.mu.Unlock()
	time.Sleep(w.rtt / 2)
	w.link <- struct{}{}
	time.Sleep(time.Duration(size) * w.perByte)
	<-w.link
	time.Sleep(w.rtt / 2)
}

func smallFetches(n int, size int64) []wire.Op {
	ops := make([]wire.Op, n)
	for i := range ops {
		ops[i] = wire.Op{Kind: wire.OpFetch, Path: fmt.Sprintf("d/f%05d", i), From: "site-a",
			Want: wire.Entry{Path: fmt.Sprintf("d/f%05d", i), Kind: wire.KindFile, Size: size}}
	}
	return ops
}

// An Apply of many small files streams: it waits for a round trip or two
// beyond the time the link takes to carry the files, whether it holds 100
// files or 4,096 (the most an Apply carries), of 1 KiB or 10 KiB; one
// request at a time it would wait for one round trip per batch.
func TestFetchAllRoundTripsDoNotGrowWithFiles(t *testing.T) {
	const rtt = 40 * time.Millisecond
	for _, size := range []int64{1 << 10, 10 << 10} {
		for _, n := range []int{100, wire.MaxBatch} {
			synctest.Test(t, func(t *testing.T) {
				w := &wan{rtt: rtt, perByte: 160 * time.Nanosecond, link: make(chan struct{}, 1)} // 50 Mbit/s
				start := time.Now()
				fetchAll(smallFetches(n, size), w.fetch)
				waited := time.Since(start) - time.Duration(w.bytes)*w.perByte
				if w.bytes != int64(n)*size {
					t.Fatalf("%d bytes fetched, want %d", w.bytes, int64(n)*size)
				}
				if waited > 2*rtt {
					t.Errorf("%d files of %d bytes in %d requests: %v beyond the link's time, %.1f round trips; want at most 2",
						n, size, w.requests, waited, float64(waited)/float64(rtt))
				}
			})
		}
	}
}

// Small files of one source travel together, up to batchFiles files and a
// chunk of bytes, and so do whole files of up to a chunk not fetched by
// delta; a larger file, one fetched by delta, or one of another source,
// goes alone.
func TestNextBatch(t *testing.T) {
	tiny := smallFetches(batchFiles+10, 1<<10)
	if n := nextBatch(tiny); n != batchFiles {
		t.Errorf("1 KiB files: batch of %d, want %d", n, batchFiles)
	}
	large := smallFetches(200, 64<<10)
	if n := nextBatch(large); n != wire.ChunkSize/(64<<10) {
		t.Errorf("64 KiB files: batch of %d, want %d", n, wire.ChunkSize/(64<<10))
	}
	mixed := smallFetches(10, 1<<10)
	mixed[3].From = "site-c"
	if n := nextBatch(mixed); n != 3 {
		t.Errorf("another source at 3: batch of %d, want 3", n)
	}
	mixed = smallFetches(10, 1<<10)
	mixed[5].Want.Size = 1 << 20
	if n := nextBatch(mixed); n != 5 {
		t.Errorf("a large file at 5: batch of %d, want 5", n)
	}
	mixed = smallFetches(10, 1<<10)
	mixed[5].Want.Size = 512 << 10
	if n := nextBatch(mixed); n != 10 {
		t.Errorf("a file of 512 KiB at 5: batch of %d, want 10 (a whole file of up to a chunk travels in the batch)", n)
	}
	mixed[5].Delta = true
	if n := nextBatch(mixed); n != 5 {
		t.Errorf("a fetch by delta of 512 KiB at 5: batch of %d, want 5", n)
	}
	mixed[5].Want.Size, mixed[5].Delta = 2<<20, false
	if n := nextBatch(mixed); n != 5 {
		t.Errorf("a file of 2 MiB at 5: batch of %d, want 5", n)
	}
	delta := smallFetches(3, 1<<10)
	delta[1].Delta = true
	if n := nextBatch(delta); n != 3 {
		t.Errorf("a small file fetched by delta: batch of %d, want 3 (a small file goes whole)", n)
	}
}
