package delta

// Range is a byte range of a file.
type Range struct {
	Off, Len int64
}

// Piece is a range of the new version and where its bytes come from: the
// basis from offset From, or the source when From is negative.
type Piece struct {
	Range
	From int64
}

// Fetched reports whether the piece's bytes come from the source.
func (p Piece) Fetched() bool { return p.From < 0 }

// Index finds blocks of a basis by hash.
type Index map[[HashLen]byte]Range

// Add indexes blocks that lie one after the other from off.
func (x Index) Add(off int64, blocks []Block) {
	for _, b := range blocks {
		if _, ok := x[b.Hash]; !ok {
			x[b.Hash] = Range{Off: off, Len: int64(b.Len)}
		}
		off += int64(b.Len)
	}
}

func (x Index) find(b Block) (int64, bool) {
	r, ok := x[b.Hash]
	return r.Off, ok && r.Len == int64(b.Len)
}

// Unmatched returns the indexes of want's blocks the basis does not hold,
// with their ranges in the new version.
func Unmatched(want []Block, basis Index) (idx []int, ranges []Range) {
	var off int64
	for i, b := range want {
		if _, ok := basis.find(b); !ok {
			idx = append(idx, i)
			ranges = append(ranges, Range{Off: off, Len: int64(b.Len)})
		}
		off += int64(b.Len)
	}
	return idx, ranges
}

// Unused returns the ranges of the basis's blocks that want does not
// hold: where the chunks a changed span may share with the basis are.
func Unused(basis []Block, want []Block) []Range {
	in := make(map[[HashLen]byte]bool, len(want))
	for _, b := range want {
		in[b.Hash] = true
	}
	var out []Range
	var off int64
	for _, b := range basis {
		if !in[b.Hash] {
			out = append(out, Range{Off: off, Len: int64(b.Len)})
		}
		off += int64(b.Len)
	}
	return out
}

// Plan returns the pieces of the new version whose spans are want, in file
// order, adjacent pieces of one origin merged: a span the basis holds
// (spans) is taken from it; a span whose chunks are known (chunks, by
// span index) is taken chunk by chunk from the basis where its chunks
// holds them; the rest is fetched.
func Plan(want []Block, spans Index, chunks map[int][]Block, basisChunks Index) []Piece {
	var p planner
	var off int64
	for i, s := range want {
		if from, ok := spans.find(s); ok {
			p.add(off, int64(s.Len), from)
		} else if cs, ok := chunks[i]; ok && sum(cs) == int64(s.Len) {
			o := off
			for _, c := range cs {
				from, ok := basisChunks.find(c)
				if !ok {
					from = -1
				}
				p.add(o, int64(c.Len), from)
				o += int64(c.Len)
			}
		} else {
			p.add(off, int64(s.Len), -1)
		}
		off += int64(s.Len)
	}
	return p.pieces
}

// Size returns the bytes of blocks.
func Size(blocks []Block) int64 { return sum(blocks) }

func sum(blocks []Block) int64 {
	var n int64
	for _, b := range blocks {
		n += int64(b.Len)
	}
	return n
}

// FetchedBytes returns how many bytes of the pieces come from the source.
func FetchedBytes(pieces []Piece) int64 {
	var n int64
	for _, p := range pieces {
		if p.Fetched() {
			n += p.Len
		}
	}
	return n
}

type planner struct{ pieces []Piece }

func (p *planner) add(off, n, from int64) {
	if k := len(p.pieces); k > 0 {
		last := &p.pieces[k-1]
		if last.Fetched() && from < 0 || !last.Fetched() && from >= 0 && last.From+last.Len == from {
			last.Len += n
			return
		}
	}
	p.pieces = append(p.pieces, Piece{Range: Range{Off: off, Len: n}, From: from})
}
