package hub

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"

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
	r := newSpoolReader(s.f, 0, s.size, 1<<16)
	if s.known != nil {
		r.known = &knownPaths{recs: s.known}
	}
	for _, run := range s.runs {
		for i := range run.n {
			e, err := r.next(i == 0)
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
		rr := &runReader{run: i, left: run.n, r: newSpoolReader(s.f, run.off, run.size, size)}
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
	r    *spoolReader
	cur  wire.Entry
}

// next reads the run's next entry into cur; false at its end or on an
// error, which it records in s.
func (rr *runReader) next(s *spool) bool {
	if rr.left == 0 {
		return false
	}
	e, err := rr.r.next(false) // a run's reader starts with an empty path
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

// spoolReader reads entries from a section of a spool's file through a
// buffer of its own, decoding from the buffer rather than a byte at a
// time: the merge reads every host's spool twice.
type spoolReader struct {
	f        io.ReaderAt
	off, end int64 // the section not read into buf yet
	buf      []byte
	pos      int
	prev     []byte // the path before, in its run
	// paths holds the entries' paths: a merge reads every path of every
	// host two or three times, and all but the rows' are garbage at
	// once, which in blocks is fewer and smaller objects to allocate
	// and collect. What the engine keeps of a stream it copies.
	paths wire.PathArena
	known *knownPaths // nil: every path is a new string
}

// knownPaths finds the paths a reader decodes, in tree order, among the
// records of the stored index, also in tree order, by a cursor that only
// moves forward. At a restart nearly every path a host scanned is
// already there, and each spool is read three times (the breaker's
// count, the engine's check, its merge): the index's strings in place of
// new ones are some 150 bytes a path and host of garbage fewer, which
// the collector would otherwise clear while the merge holds its most,
// near its memory limit (memory.go).
type knownPaths struct {
	recs []conflict.Record
	at   int
}

// find returns the stored string of p, if the index holds p. Calls come
// in tree order; a path not held, or repeated, is not found.
func (k *knownPaths) find(p []byte) (string, bool) {
	if k == nil {
		return "", false
	}
	for ; k.at < len(k.recs); k.at++ {
		q := k.recs[k.at].Entry.Path
		switch c := conflict.ComparePathBytes(p, q); {
		case c == 0:
			k.at++
			return q, true
		case c < 0:
			return "", false
		}
	}
	return "", false
}

func newSpoolReader(f io.ReaderAt, off, size int64, bufSize int) *spoolReader {
	return &spoolReader{f: f, off: off, end: off + size, buf: make([]byte, 0, bufSize)}
}

// ensure makes n bytes available from pos, fewer only at the section's
// end (or where the file ends before it).
func (r *spoolReader) ensure(n int) error {
	if len(r.buf)-r.pos >= n || r.off == r.end {
		return nil
	}
	rest := copy(r.buf[:cap(r.buf)], r.buf[r.pos:])
	if n > cap(r.buf) {
		grown := make([]byte, rest, n)
		copy(grown, r.buf[:rest])
		r.buf = grown
	}
	r.buf, r.pos = r.buf[:cap(r.buf)], 0
	want := int(min(int64(cap(r.buf)-rest), r.end-r.off))
	got, err := r.f.ReadAt(r.buf[rest:rest+want], r.off)
	r.off += int64(got)
	r.buf = r.buf[:rest+got]
	if got < want {
		// A file cut short: what it holds is decoded, and the entry it
		// cuts fails as truncated.
		r.end = r.off
		if err != io.EOF {
			return err
		}
	}
	return nil
}

// entryHead is the most an entry's fixed part takes besides its path:
// the two lengths, flags and kind, size, time and mode, a hash.
const entryHead = 2*binary.MaxVarintLen64 + 2 + 2*binary.MaxVarintLen64 + binary.MaxVarintLen32 + len(wire.Hash{})

// next decodes one entry; newRun resets the path it is encoded against.
func (r *spoolReader) next(newRun bool) (wire.Entry, error) {
	var e wire.Entry
	if newRun {
		r.prev = r.prev[:0]
	}
	if err := r.ensure(entryHead); err != nil {
		return e, err
	}
	shared, err := r.uvarint()
	if err != nil {
		return e, err
	}
	rest, err := r.uvarint()
	if err != nil {
		return e, err
	}
	if shared > uint64(len(r.prev)) || rest > 1<<20 {
		return e, errors.New("corrupt entry")
	}
	if err := r.ensure(int(rest) + entryHead); err != nil {
		return e, err
	}
	if len(r.buf)-r.pos < int(rest)+2 {
		return e, io.ErrUnexpectedEOF
	}
	r.prev = append(r.prev[:shared], r.buf[r.pos:r.pos+int(rest)]...)
	r.pos += int(rest)
	if p, ok := r.known.find(r.prev); ok {
		e.Path = p
	} else {
		e.Path = r.paths.CopyBytes(r.prev)
	}
	flags, kind := r.buf[r.pos], r.buf[r.pos+1]
	r.pos += 2
	e.Kind = wire.EntryKind(kind)
	if e.Size, err = r.varint(); err != nil {
		return e, err
	}
	if e.Mtime, err = r.varint(); err != nil {
		return e, err
	}
	mode, err := r.uvarint()
	if err != nil {
		return e, err
	}
	e.Mode = uint32(mode)
	if flags&spoolHasHash != 0 {
		if len(r.buf)-r.pos < len(e.Hash) {
			return e, io.ErrUnexpectedEOF
		}
		r.pos += copy(e.Hash[:], r.buf[r.pos:])
	}
	return e, nil
}

func (r *spoolReader) uvarint() (uint64, error) {
	v, n := binary.Uvarint(r.buf[r.pos:])
	if n <= 0 {
		return 0, varintErr(n)
	}
	r.pos += n
	return v, nil
}

func (r *spoolReader) varint() (int64, error) {
	v, n := binary.Varint(r.buf[r.pos:])
	if n <= 0 {
		return 0, varintErr(n)
	}
	r.pos += n
	return v, nil
}

func varintErr(n int) error {
	if n == 0 {
		return io.ErrUnexpectedEOF
	}
	return errors.New("corrupt entry: varint overflows")
}
