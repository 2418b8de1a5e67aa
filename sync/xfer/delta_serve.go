package xfer

import (
	"fmt"
	"io"

	"github.com/peerlink/peerlink/sync/delta"
	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/wire"
)

// ServeSpans answers a Spans from t: a page of the span list of the file,
// which must be the version the target wants before and after, as in Serve.
func ServeSpans(t *tree.Tree, host string, sigs Signatures, m *wire.Spans) (wire.SpansData, []byte, error) {
	fail := func(err error) (wire.SpansData, []byte, error) {
		return wire.SpansData{}, nil, wire.ToError("spans", host, m.Path, err)
	}
	f, err := t.OpenRead(m.Path)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	r := &wire.Read{Path: m.Path, Size: m.Size, Mtime: m.Mtime}
	if err := sameVersion(f, r); err != nil {
		return fail(err)
	}
	spans, err := sigs.Spans(m.Path, f)
	if err != nil {
		return fail(err)
	}
	if err := sameVersion(f, r); err != nil {
		return fail(err)
	}
	if delta.Size(spans) != m.Size {
		return fail(&wire.Error{Kind: wire.KindChanged, Msg: "signature does not cover the file"})
	}
	first := min(m.First, len(spans))
	page := spans[first:min(len(spans), first+wire.MaxSpans)]
	return wire.SpansData{N: len(page), Total: len(spans)}, delta.AppendBlocks(nil, page), nil
}

// ServeChunks answers a Chunks from t: the chunk lists of the spans asked,
// found by chunking each span's bytes alone.
func ServeChunks(t *tree.Tree, host string, m *wire.Chunks) (wire.ChunksData, []byte, error) {
	fail := func(err error) (wire.ChunksData, []byte, error) {
		return wire.ChunksData{}, nil, wire.ToError("chunks", host, m.Path, err)
	}
	f, err := t.OpenRead(m.Path)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	r := &wire.Read{Path: m.Path, Size: m.Size, Mtime: m.Mtime}
	if err := sameVersion(f, r); err != nil {
		return fail(err)
	}
	reply := wire.ChunksData{Counts: make([]int, len(m.Spans))}
	var data []byte
	buf := make([]byte, 256<<10)
	for i, s := range m.Spans {
		c := delta.NewChunks()
		n, err := io.CopyBuffer(c, io.NewSectionReader(f, s.Off, s.Len), buf)
		if err == nil && n != s.Len {
			err = &wire.Error{Kind: wire.KindChanged, Msg: fmt.Sprintf("span %d+%d: read %d bytes", s.Off, s.Len, n)}
		}
		if err != nil {
			return fail(err)
		}
		blocks := c.Blocks()
		reply.Counts[i] = len(blocks)
		data = delta.AppendBlocks(data, blocks)
	}
	if err := sameVersion(f, r); err != nil {
		return fail(err)
	}
	return reply, data, nil
}
