package hub

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/wire"
)

// Entries yields the spooled entries in tree order (see spool), those
// added in the same order kept so. A read error ends them early and is
// kept in s.err.
func (s *spool) Entries() iter.Seq[wire.Entry] {
	return func(yield func(wire.Entry) bool) {
		for _, e := range s.stray {
			if !yield(e) {
				return
			}
		}
		if s.merge {
			s.mergeRuns(yield)
		} else {
			s.readRuns(yield)
		}
	}
}

// readRuns yields the runs one after another: they are in order.
func (s *spool) readRuns(yield func(wire.Entry) bool) {
	r := bufio.NewReaderSize(io.NewSectionReader(s.f, 0, s.size), 1<<16)
	var prev []byte
	for _, run := range s.runs {
		prev = prev[:0]
		for range run.n {
			e, err := readSpooled(r, &prev)
			if err != nil {
				s.fail(err)
				return
			}
			if !yield(e) {
				return
			}
		}
	}
}

// mergeRuns yields the runs' entries merged, an entry of an earlier run
// first among equal paths: the spool as one stable sort of what was added.
// Each run is read through a buffer of its own, together at most a few MiB.
func (s *spool) mergeRuns(yield func(wire.Entry) bool) {
	size := min(1<<16, max(1<<12, (4<<20)/len(s.runs)))
	h := make(runHeap, 0, len(s.runs))
	for i, run := range s.runs {
		rr := &runReader{run: i, left: run.n, r: bufio.NewReaderSize(io.NewSectionReader(s.f, run.off, run.size), size)}
		if !rr.next(s) {
			if s.err != nil {
				return
			}
			continue
		}
		h = append(h, rr)
	}
	heap.Init(&h)
	for len(h) > 0 {
		rr := h[0]
		if !yield(rr.cur) {
			return
		}
		if rr.next(s) {
			heap.Fix(&h, 0)
			continue
		}
		if s.err != nil {
			return
		}
		heap.Pop(&h)
	}
}

func (s *spool) fail(err error) {
	if s.err == nil {
		s.err = fmt.Errorf("read spooled scan %s: %w", s.f.Name(), err)
	}
}

// runReader reads one run of a spool being merged.
type runReader struct {
	run  int
	left int
	r    *bufio.Reader
	prev []byte
	cur  wire.Entry
}

// next reads the run's next entry into cur; false at its end or on an
// error, which it records in s.
func (rr *runReader) next(s *spool) bool {
	if rr.left == 0 {
		return false
	}
	e, err := readSpooled(rr.r, &rr.prev)
	if err != nil {
		s.fail(err)
		return false
	}
	rr.cur = e
	rr.left--
	return true
}

// runHeap orders the runs being merged by their current entry, in tree
// order and then by run.
type runHeap []*runReader

func (h runHeap) Len() int { return len(h) }
func (h runHeap) Less(i, j int) bool {
	if c := conflict.ComparePaths(h[i].cur.Path, h[j].cur.Path); c != 0 {
		return c < 0
	}
	return h[i].run < h[j].run
}
func (h runHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)   { *h = append(*h, x.(*runReader)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

const spoolHasHash = 1 // on the flags byte: a hash follows

func appendSpooled(b []byte, prev string, e *wire.Entry) []byte {
	shared := 0
	for shared < len(prev) && shared < len(e.Path) && prev[shared] == e.Path[shared] {
		shared++
	}
	b = binary.AppendUvarint(b, uint64(shared))
	b = binary.AppendUvarint(b, uint64(len(e.Path)-shared))
	b = append(b, e.Path[shared:]...)
	flags := byte(0)
	if !e.Hash.IsZero() {
		flags |= spoolHasHash
	}
	b = append(b, flags, byte(e.Kind))
	b = binary.AppendVarint(b, e.Size)
	b = binary.AppendVarint(b, e.Mtime)
	b = binary.AppendUvarint(b, uint64(e.Mode))
	if !e.Hash.IsZero() {
		b = append(b, e.Hash[:]...)
	}
	return b
}

// readSpooled decodes one entry; prev is the path before it in its run,
// updated.
func readSpooled(r *bufio.Reader, prev *[]byte) (wire.Entry, error) {
	var e wire.Entry
	shared, err := binary.ReadUvarint(r)
	if err != nil {
		return e, err
	}
	rest, err := binary.ReadUvarint(r)
	if err != nil {
		return e, err
	}
	if shared > uint64(len(*prev)) || rest > 1<<20 {
		return e, errors.New("corrupt entry")
	}
	p := slices.Grow((*prev)[:shared], int(rest))[:shared+rest]
	if _, err := io.ReadFull(r, p[shared:]); err != nil {
		return e, err
	}
	*prev = p
	e.Path = string(p)
	flags, err := r.ReadByte()
	if err != nil {
		return e, err
	}
	kind, err := r.ReadByte()
	if err != nil {
		return e, err
	}
	e.Kind = wire.EntryKind(kind)
	if e.Size, err = binary.ReadVarint(r); err != nil {
		return e, err
	}
	if e.Mtime, err = binary.ReadVarint(r); err != nil {
		return e, err
	}
	mode, err := binary.ReadUvarint(r)
	if err != nil {
		return e, err
	}
	e.Mode = uint32(mode)
	if flags&spoolHasHash != 0 {
		if _, err := io.ReadFull(r, e.Hash[:]); err != nil {
			return e, err
		}
	}
	return e, nil
}
