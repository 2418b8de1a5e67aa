package agent

import (
	"context"
	"sync/atomic"

	"github.com/peerlink/peerlink/sync/xfer"
	"github.com/peerlink/peerlink/wire"
)

// Inline content (wire.Inline), both ways: a source sends the content of
// the small files it reports with the report, and a target writes what an
// Apply carries without asking the source for it, a round trip through
// the broker saved per file over the WAN.

// inline fills in the content of batch's writes of small files, as far as
// one frame's data holds them, and returns the batch read for them (its
// Data goes with the message; Release it once sent), or nil. A file that
// changed since its entry was taken is sent without: the target fetches it,
// or the next report supersedes it.
func (l *live) inline(batch []wire.Change) *xfer.Batch {
	req := wire.ReadMany{Session: l.s.name}
	var idx []int
	var total int64
	for i, ch := range batch {
		if ch.Kind != wire.ChangeWrite || ch.Entry.Kind != wire.KindFile || ch.Entry.Size > wire.InlineMax ||
			total+ch.Entry.Size > wire.ChunkSize || len(req.Files) == wire.MaxReadMany {
			continue
		}
		req.Files = append(req.Files, wire.FileRef{Path: ch.Path, Size: ch.Entry.Size, Mtime: ch.Entry.Mtime})
		idx = append(idx, i)
		total += ch.Entry.Size
	}
	if len(req.Files) == 0 {
		return nil
	}
	b, err := xfer.ServeMany(l.s.tree, l.a.cfg.Name, &req)
	if err != nil {
		l.a.log.Debug().Err(err).Str("session", l.s.name).Msg("inline content")
		return nil
	}
	// A part that could not be read takes no data, so the data holds the
	// others' in the order of their changes.
	for k, part := range b.Reply.Parts {
		if part.Error == nil {
			batch[idx[k]].Inline = &wire.Inline{N: part.N, Len: part.Len, Codec: part.Codec}
		}
	}
	return b
}

// inlineClosed adds to m, a close with a new version of a small file, that
// content, and returns its data (nil if none) and the batch to Release once
// m is sent.
func (l *live) inlineClosed(m *wire.Closed) ([]byte, *xfer.Batch) {
	if m.Entry == nil {
		return nil, nil
	}
	ch := []wire.Change{{Kind: wire.ChangeWrite, Path: m.Path, Entry: *m.Entry}}
	b := l.inline(ch)
	if b == nil {
		return nil, nil
	}
	m.Inline = ch[0].Inline
	return b.Data, b
}

// inlined is one file's content that came with an Apply.
type inlined struct {
	part wire.Inline
	want wire.Entry
	data []byte
}

type inlineKey struct{}

// withInline returns ctx carrying the inline content of m's ops, whose
// data is data, for the sources of the fetches it runs (see source). Data
// that does not add up is ignored: the files are fetched.
func (a *Agent) withInline(ctx context.Context, m *wire.Apply, data []byte) context.Context {
	parts := make([]*wire.Inline, len(m.Ops))
	n := 0
	for i := range m.Ops {
		if m.Ops[i].Kind == wire.OpFetch && m.Ops[i].Inline != nil {
			parts[i] = m.Ops[i].Inline
			n++
		}
	}
	if n == 0 {
		return ctx
	}
	split, err := wire.SplitInline(parts, data)
	if err != nil {
		a.log.Warn().Err(err).Str("session", m.Session).Msg("apply: inline content ignored, the files are fetched")
		return ctx
	}
	byPath := make(map[string]inlined, n)
	for i, p := range parts {
		if p != nil {
			byPath[m.Ops[i].Path] = inlined{part: *p, want: m.Ops[i].Want, data: split[i]}
		}
	}
	return context.WithValue(ctx, inlineKey{}, byPath)
}

// inlineOf returns the inline content ctx carries, if any.
func inlineOf(ctx context.Context) map[string]inlined {
	m, _ := ctx.Value(inlineKey{}).(map[string]inlined)
	return m
}

// readInline answers r from the content an Apply carried, if it holds the
// whole of the version r asks for.
func readInline(ctx context.Context, r *wire.Read, onWire *atomic.Int64) (wire.ReadData, []byte, bool) {
	in, ok := inlineOf(ctx)[r.Path]
	if !ok || r.Offset != 0 || r.Size != in.want.Size || r.Mtime != in.want.Mtime || int64(r.Length) < r.Size {
		return wire.ReadData{}, nil, false
	}
	if onWire != nil {
		onWire.Add(int64(len(in.data)))
	}
	return wire.ReadData{N: in.part.N, Codec: in.part.Codec, EOF: true}, in.data, true
}

// readManyInline answers r from the content an Apply carried, if it holds
// every file r asks for.
func readManyInline(ctx context.Context, r *wire.ReadMany, onWire *atomic.Int64) (wire.ReadManyData, []byte, bool) {
	all := inlineOf(ctx)
	if len(all) == 0 {
		return wire.ReadManyData{}, nil, false
	}
	out := wire.ReadManyData{Parts: make([]wire.ReadPart, len(r.Files))}
	var data []byte
	for i, f := range r.Files {
		in, ok := all[f.Path]
		if !ok || f.Size != in.want.Size || f.Mtime != in.want.Mtime {
			return wire.ReadManyData{}, nil, false
		}
		out.Parts[i] = wire.ReadPart{N: in.part.N, Len: in.part.Len, Codec: in.part.Codec}
		data = append(data, in.data...)
	}
	if onWire != nil {
		onWire.Add(int64(len(data)))
	}
	return out, data, true
}
