package delta

import (
	"bytes"
	"math/rand"
	"testing"
)

// signature computes the span list of b, written in pieces of random
// sizes: the result must not depend on how the stream is cut.
func spansOf(b []byte, rng *rand.Rand) []Block {
	s := NewSpans()
	for len(b) > 0 {
		n := min(len(b), 1+rng.Intn(300<<10))
		s.Write(b[:n])
		b = b[n:]
	}
	return s.Blocks()
}

func chunksOf(b []byte) []Block {
	s := NewChunks()
	s.Write(b)
	return s.Blocks()
}

type edit func(b []byte, rng *rand.Rand) []byte

func overwrite(b []byte, rng *rand.Rand) []byte {
	n := 1 + rng.Intn(4096)
	at := rng.Intn(len(b) - n)
	rng.Read(b[at : at+n])
	return b
}

func insert(b []byte, rng *rand.Rand) []byte {
	ins := make([]byte, 1+rng.Intn(4096))
	rng.Read(ins)
	at := rng.Intn(len(b))
	return append(b[:at:at], append(ins, b[at:]...)...)
}

func remove(b []byte, rng *rand.Rand) []byte {
	n := 1 + rng.Intn(4096)
	at := rng.Intn(len(b) - n)
	return append(b[:at:at], b[at+n:]...)
}

func appendTo(b []byte, rng *rand.Rand) []byte {
	tail := make([]byte, 1+rng.Intn(8192))
	rng.Read(tail)
	return append(b, tail...)
}

func truncate(b []byte, rng *rand.Rand) []byte { return b[:len(b)-1-rng.Intn(8192)] }

// exchange runs the protocol as the target does: span lists, chunk lists
// of unmatched spans, basis chunks of unused basis spans; it returns the
// plan and the bytes that crossed the wire (signatures and data).
func exchange(t testing.TB, basis, want []byte, rng *rand.Rand) ([]Piece, int64) {
	t.Helper()
	bs, ws := spansOf(basis, rng), spansOf(want, rng)
	if Size(bs) != int64(len(basis)) || Size(ws) != int64(len(want)) {
		t.Fatalf("spans cover %d and %d bytes, files are %d and %d", Size(bs), Size(ws), len(basis), len(want))
	}
	wire := int64(len(ws) * BlockSize)
	spans := Index{}
	spans.Add(0, bs)
	idx, ranges := Unmatched(ws, spans)
	chunks := map[int][]Block{}
	for k, i := range idx {
		r := ranges[k]
		cs := chunksOf(want[r.Off : r.Off+r.Len])
		wire += int64(len(cs) * BlockSize)
		// A span's chunks, found from its bytes alone, are the file's.
		chunks[i] = cs
	}
	basisChunks := Index{}
	for _, r := range Unused(bs, ws) {
		basisChunks.Add(r.Off, chunksOf(basis[r.Off:r.Off+r.Len]))
	}
	plan := Plan(ws, spans, chunks, basisChunks)
	return plan, wire + FetchedBytes(plan)
}

func rebuild(basis, want []byte, plan []Piece) []byte {
	var out []byte
	for _, p := range plan {
		if p.Fetched() {
			out = append(out, want[p.Off:p.Off+p.Len]...)
		} else {
			out = append(out, basis[p.From:p.From+p.Len]...)
		}
	}
	return out
}

func TestRebuildAfterRandomEdits(t *testing.T) {
	edits := map[string]edit{"overwrite": overwrite, "insert": insert, "delete": remove, "append": appendTo, "truncate": truncate}
	names := []string{"overwrite", "insert", "delete", "append", "truncate"}
	for seed := int64(1); seed <= 16; seed++ {
		rng := rand.New(rand.NewSource(seed))
		size := 1<<20 + rng.Intn(2<<20)
		basis := make([]byte, size)
		rng.Read(basis)
		if seed%4 == 0 {
			// long runs of one byte: chunks forced at MaxChunk, spans at MaxSpan
			clear(basis[size/4 : size/2])
		}
		want := bytes.Clone(basis)
		n := 1 + rng.Intn(4)
		var done []string
		for range n {
			name := names[rng.Intn(len(names))]
			want = edits[name](want, rng)
			done = append(done, name)
		}
		plan, moved := exchange(t, basis, want, rng)
		if got := rebuild(basis, want, plan); !bytes.Equal(got, want) {
			t.Fatalf("seed %d, edits %v: rebuilt file differs", seed, done)
		}
		// Each edit spoils at most the chunks around it, two chunks and
		// the span boundaries it moves; the signatures come on top.
		sigs := int64(len(spansOf(want, rng))*BlockSize) + int64(n)*2*(MaxSpan/MinChunk)*BlockSize
		if bound := int64(n)*(2*MaxChunk+8192) + sigs; moved > bound {
			t.Errorf("seed %d, edits %v: %d bytes moved for a %d-byte file, bound %d", seed, done, moved, len(want), bound)
		}
		t.Logf("seed %d: %d bytes, edits %v: %d bytes moved", seed, len(want), done, moved)
	}
}

func TestNoSharedContentFetchesAll(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	basis, want := make([]byte, 2<<20), make([]byte, 3<<20)
	rng.Read(basis)
	rng.Read(want)
	plan, _ := exchange(t, basis, want, rng)
	if len(plan) != 1 || !plan[0].Fetched() || plan[0].Len != int64(len(want)) {
		t.Fatalf("plan %v, want one fetched piece of the whole file", plan)
	}
}

func TestBlocksRoundTripAndLimits(t *testing.T) {
	blocks := []Block{{Len: 5, Hash: [HashLen]byte{1}}, {Len: MaxSpan, Hash: [HashLen]byte{2, 3}}}
	got, err := ParseBlocks(AppendBlocks(nil, blocks), MaxSpan)
	if err != nil || len(got) != 2 || got[0] != blocks[0] || got[1] != blocks[1] {
		t.Fatalf("round trip: %v, %v", got, err)
	}
	for name, b := range map[string][]byte{
		"a torn block":         AppendBlocks(nil, blocks)[:BlockSize+3],
		"an empty block":       AppendBlocks(nil, []Block{{Len: 0}}),
		"a block over the max": AppendBlocks(nil, []Block{{Len: MaxSpan + 1}}),
	} {
		if _, err := ParseBlocks(b, MaxSpan); err == nil {
			t.Errorf("%s was accepted", name)
		}
	}
}

func BenchmarkSpans(b *testing.B) {
	data := make([]byte, 64<<20)
	rand.New(rand.NewSource(1)).Read(data)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		s := NewSpans()
		for p := data; len(p) > 0; p = p[1<<20:] {
			s.Write(p[:1<<20])
		}
		s.Blocks()
	}
}

// BenchmarkWireBytes reports what crosses the wire (signatures and data)
// for the bench's two edits of a large file: one byte overwritten, and
// 1 KiB inserted in the middle.
func BenchmarkWireBytes(b *testing.B) {
	const size = 256 << 20
	rng := rand.New(rand.NewSource(5))
	basis := make([]byte, size)
	rng.Read(basis)
	for _, c := range []struct {
		name string
		edit func([]byte) []byte
	}{
		{"overwrite1B", func(x []byte) []byte { x = bytes.Clone(x); x[size/3] ^= 1; return x }},
		{"insert1KiB", func(x []byte) []byte {
			ins := make([]byte, 1024)
			rng.Read(ins)
			return append(append(bytes.Clone(x[:size/2]), ins...), x[size/2:]...)
		}},
	} {
		want := c.edit(basis)
		b.Run(c.name, func(b *testing.B) {
			var moved int64
			for b.Loop() {
				_, moved = exchange(b, basis, want, rng)
			}
			spans := int64(len(spansOf(want, rng)) * BlockSize)
			b.ReportMetric(float64(moved), "wire-bytes")
			b.ReportMetric(float64(spans), "span-list-bytes")
		})
	}
}
