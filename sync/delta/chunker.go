package delta

import (
	"crypto/sha256"
	"hash"
)

// Sizes of chunks and spans. They are part of the protocol: two agents
// match spans only if they cut alike, so a change here is a change of
// wire.DeltaVersion.
const (
	// MinSize is the smallest file whose signature a scan computes as it
	// hashes the file (sync/scan); a smaller one's is computed when asked.
	MinSize  = 1 << 20
	MinChunk = 4 << 10
	AvgChunk = 16 << 10
	MaxChunk = 64 << 10
	// MaxSpan bounds a span, so that a span's chunks can be listed by
	// reading that span alone, and a long run without a content-defined
	// span end (zeros) does not make the span list useless.
	MaxSpan = 4 << 20
	// HashLen is the length of a span's or chunk's hash: the first 16
	// bytes of its SHA-256. A collision can only spoil a rebuild, which
	// the whole file's hash then refuses (and the file is sent whole).
	HashLen = 16
)

// Masks of the fingerprint's top bits (the only ones that depend on the
// last 64 bytes; the low ones depend on the last few). FastCDC's
// normalised chunking: a harder mask before AvgChunk, an easier one after,
// so chunk sizes gather near AvgChunk. spanMask uses bits below both, so
// that among the cuts it selects one in 64 whatever the chunk mask was.
const (
	maskHard = uint64(0xFFFF) << 48 // 16 bits
	maskEasy = uint64(0x0FFF) << 52 // 12 bits
	spanMask = uint64(0x3F) << 40   // 6 bits: one cut in 64 ends a span
)

// gear holds the 256 random values of the gear hash, from a fixed seed: a
// change is a change of protocol, like the sizes above.
var gear = func() (g [256]uint64) {
	x := uint64(0x9E3779B97F4A7C15)
	for i := range g {
		// splitmix64
		x += 0x9E3779B97F4A7C15
		z := x
		z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
		z = (z ^ z>>27) * 0x94D049BB133111EB
		g[i] = z ^ z>>31
	}
	return g
}()

// cutter finds chunk cuts in a stream fed piece by piece.
type cutter struct {
	fp uint64
	n  int // bytes of the current chunk so far
}

// next returns how many bytes of p belong to the current chunk and whether
// the chunk ends after them; span reports whether that end is also a span
// end by content (a chunk forced to end at MaxChunk never is). The result
// does not depend on how the stream is split into calls.
func (c *cutter) next(p []byte) (k int, cut, span bool) {
	i, fp, n := 0, c.fp, c.n
	// A byte is shifted out of the 64-bit fingerprint 64 bytes later, so
	// the bytes before MinChunk-64 cannot affect a cut: skip them.
	if skip := MinChunk - 64 - n; skip > 0 {
		if skip >= len(p) {
			c.n += len(p)
			return len(p), false, false
		}
		i, n = skip, n+skip
	}
	// Until MinChunk, no cut; then the hard mask until AvgChunk, the easy
	// one until MaxChunk. Each phase is a loop of its own: a branch less
	// per byte.
	for i < len(p) {
		mask, limit := uint64(0), MinChunk
		switch {
		case n >= AvgChunk:
			mask, limit = maskEasy, MaxChunk
		case n >= MinChunk:
			mask, limit = maskHard, AvgChunk
		}
		stop := min(len(p), i+limit-n)
		start := i
		if mask == 0 {
			for ; i < stop; i++ {
				fp = fp<<1 + gear[p[i]]
			}
		} else {
			for ; i < stop; i++ {
				fp = fp<<1 + gear[p[i]]
				if fp&mask == 0 {
					c.fp, c.n = 0, 0
					return i + 1, true, fp&spanMask == 0
				}
			}
		}
		n += i - start
		if n >= MaxChunk {
			c.fp, c.n = 0, 0
			return i, true, false
		}
	}
	c.fp, c.n = fp, n
	return len(p), false, false
}

// Block is a span or a chunk: its length and hash. Its offset is the sum
// of the lengths before it in its list.
type Block struct {
	Len  int
	Hash [HashLen]byte
}

// Signer computes the blocks of a stream written to it: spans (NewSpans)
// or chunks (NewChunks). It never holds more than the hash state.
type Signer struct {
	spans  bool
	c      cutter
	h      hash.Hash
	n      int // bytes of the current block
	blocks []Block
}

// NewSpans returns a Signer of the span list of what is written to it.
func NewSpans() *Signer { return &Signer{spans: true, h: sha256.New()} }

// NewChunks returns a Signer of the chunk list of what is written to it:
// written one span, it gives that span's chunks.
func NewChunks() *Signer { return &Signer{h: sha256.New()} }

// Write adds p to the stream; it never fails.
func (s *Signer) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		k, cut, span := s.c.next(p)
		s.h.Write(p[:k])
		s.n += k
		p = p[k:]
		if cut && (!s.spans || span || s.n+MaxChunk > MaxSpan) {
			s.end()
		}
	}
	return total, nil
}

func (s *Signer) end() {
	b := Block{Len: s.n}
	var sum [sha256.Size]byte
	copy(b.Hash[:], s.h.Sum(sum[:0]))
	s.blocks = append(s.blocks, b)
	s.h.Reset()
	s.n = 0
}

// Blocks ends the stream and returns its blocks, in order.
func (s *Signer) Blocks() []Block {
	if s.n > 0 {
		s.end()
	}
	return s.blocks
}
