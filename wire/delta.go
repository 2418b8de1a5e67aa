package wire

import "fmt"

// Delta transfer (sync/delta): a target that holds an older copy of a file
// asks the source for the span list of the version it wants, then for the
// chunk lists of the spans it does not hold, then Reads only the ranges it
// has nowhere else. The lists travel as the frame's data, SigBlockSize
// bytes a block; sync/delta encodes and checks them.
const (
	// SigBlockSize is one span's or chunk's signature: length and hash.
	SigBlockSize = 20
	// MaxSpans bounds the spans one SpansData carries; a longer list is
	// asked for in pages.
	MaxSpans = 32768
	// MaxSpanLen is the longest span (sync/delta.MaxSpan).
	MaxSpanLen = 4 << 20
	// MaxChunkSpans bounds the spans one Chunks names, and
	// MaxChunkBytes their bytes in all, so that a source reads little
	// for one request and the answer fits a frame.
	MaxChunkSpans = 64
	MaxChunkBytes = 16 << 20
)

// Spans asks a source agent for the span list of a file, from span First
// on. Size and Mtime are the version the target wants, as in Read: a
// source whose file no longer matches answers Fail with KindChanged.
type Spans struct {
	Session string `json:"session"`
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	Mtime   int64  `json:"mtime"`
	First   int    `json:"first,omitempty"`
}

func (*Spans) Type() Type { return TypeSpans }
func (m *Spans) Validate() error {
	if err := CheckName("session", m.Session); err != nil {
		return err
	}
	if err := CheckPath(m.Path); err != nil {
		return err
	}
	if m.Size < 0 || m.First < 0 {
		return fmt.Errorf("spans %s: size %d from span %d out of range", m.Path, m.Size, m.First)
	}
	return nil
}

// SpansData answers Spans: N spans from the one asked for, of Total in
// the file, as the frame's data.
type SpansData struct {
	N     int `json:"n"`
	Total int `json:"total"`
}

func (*SpansData) Type() Type { return TypeSpansData }
func (m *SpansData) Validate() error {
	if m.N < 0 || m.N > MaxSpans || m.Total < m.N {
		return fmt.Errorf("spans data: %d spans of %d out of range", m.N, m.Total)
	}
	return nil
}

// Chunks asks a source agent for the chunk lists of some spans of a file
// version (Size, Mtime as in Spans), each named by its range.
type Chunks struct {
	Session string      `json:"session"`
	Path    string      `json:"path"`
	Size    int64       `json:"size"`
	Mtime   int64       `json:"mtime"`
	Spans   []ByteRange `json:"spans"`
}

// ByteRange is a range of a file.
type ByteRange struct {
	Off int64 `json:"off"`
	Len int64 `json:"len"`
}

func (*Chunks) Type() Type { return TypeChunks }
func (m *Chunks) Validate() error {
	if err := CheckName("session", m.Session); err != nil {
		return err
	}
	if err := CheckPath(m.Path); err != nil {
		return err
	}
	if len(m.Spans) == 0 || len(m.Spans) > MaxChunkSpans {
		return fmt.Errorf("chunks %s: %d spans, want 1 to %d", m.Path, len(m.Spans), MaxChunkSpans)
	}
	var total int64
	for _, s := range m.Spans {
		if s.Off < 0 || s.Len <= 0 || s.Len > MaxSpanLen || s.Off > m.Size-s.Len {
			return fmt.Errorf("chunks %s: span %d+%d out of range", m.Path, s.Off, s.Len)
		}
		total += s.Len
	}
	if total > MaxChunkBytes {
		return fmt.Errorf("chunks %s: %d bytes of spans exceed %d", m.Path, total, MaxChunkBytes)
	}
	return nil
}

// ChunksData answers Chunks: how many chunks each span has, in the
// request's order; the chunk lists follow one another as the frame's data.
type ChunksData struct {
	Counts []int `json:"counts"`
}

func (*ChunksData) Type() Type { return TypeChunksData }
func (m *ChunksData) Validate() error {
	if len(m.Counts) > MaxChunkSpans {
		return fmt.Errorf("chunks data: %d spans exceed %d", len(m.Counts), MaxChunkSpans)
	}
	total := 0
	for _, n := range m.Counts {
		if n <= 0 || n > MaxSpanLen {
			return fmt.Errorf("chunks data: a span of %d chunks", n)
		}
		total += n
	}
	if total*SigBlockSize > MaxData {
		return fmt.Errorf("chunks data: %d chunks exceed a frame", total)
	}
	return nil
}
