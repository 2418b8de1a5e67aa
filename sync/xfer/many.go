package xfer

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/wire"
)

// SmallFile is the largest file worth fetching in a batch with others (see
// FetchMany): below it, the round trip and the frames of a file cost more
// than its bytes.
const SmallFile = 64 << 10

// Batch is a ReadMany answered by the source: the reply and the bytes to
// send beside it. Release returns its buffer once the bytes have been sent.
type Batch struct {
	Reply wire.ReadManyData
	Data  []byte
	buf   *[]byte
}

// Release returns the batch's buffer to the pool.
func (b *Batch) Release() {
	if b.buf != nil {
		bufPool.Put(b.buf)
		b.buf = nil
	}
}

// ServeMany answers one ReadMany from t: each file whole, checked like a
// Read against the size and modification time the target expects, before
// and after the read. A file that cannot be read, or changed, is a part
// carrying its error; the others are sent. Each file is compressed on its
// own, where it pays as in Serve, so that each part can travel apart (the
// content that goes with a live change, see wire.Inline).
func ServeMany(t *tree.Tree, host string, m *wire.ReadMany) (*Batch, error) {
	b := readMany(t, host, m)
	scratch := bufPool.Get().(*[]byte)
	defer bufPool.Put(scratch)
	raw, pos := b.Data, 0
	for i := range b.Reply.Parts {
		part := &b.Reply.Parts[i]
		if part.Error != nil || part.N == 0 {
			continue
		}
		piece := raw[:part.N]
		raw = raw[part.N:]
		if codec, enc := encodePiece((*scratch)[:0], piece); codec != wire.CodecNone {
			part.Len, part.Codec = len(enc), codec
			piece = enc
		}
		// The encoded part is never longer than the raw one, so it
		// is written over what was read, never past what is still to
		// be read.
		pos += copy((*b.buf)[pos:], piece)
	}
	b.Data = (*b.buf)[:pos]
	return b, nil
}

// ServeBatch answers one ReadMany from t as ServeMany does, but compresses
// the files' content as one piece (wire.ReadManyData.Codec), where that
// pays: a batch of small files keeps the context the files share.
func ServeBatch(t *tree.Tree, host string, m *wire.ReadMany) (*Batch, error) {
	b := readMany(t, host, m)
	out := bufPool.Get().(*[]byte)
	if codec, enc := encodePiece((*out)[:0], b.Data); codec != wire.CodecNone {
		bufPool.Put(b.buf)
		b.buf, b.Data, b.Reply.Codec = out, enc, codec
	} else {
		bufPool.Put(out)
	}
	return b, nil
}

// readMany reads the files m asks for, one after the other, into a batch:
// its data is their raw content, each part's N and Len its length.
func readMany(t *tree.Tree, host string, m *wire.ReadMany) *Batch {
	out := bufPool.Get().(*[]byte)
	b := &Batch{buf: out, Reply: wire.ReadManyData{Parts: make([]wire.ReadPart, len(m.Files))}}
	pos := 0
	for i := range m.Files {
		f := &m.Files[i]
		n, err := readWhole(t, f, (*out)[pos:pos+int(f.Size)])
		if err != nil {
			b.Reply.Parts[i].Error = wire.ToError("read", host, f.Path, err)
			continue
		}
		b.Reply.Parts[i] = wire.ReadPart{N: n, Len: n}
		pos += n
	}
	b.Data = (*out)[:pos]
	return b
}

// readWhole reads the file f names into buf, which is f.Size long, if it is
// still the version f describes.
func readWhole(t *tree.Tree, f *wire.FileRef, buf []byte) (int, error) {
	fh, err := t.OpenRead(f.Path)
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	r := &wire.Read{Path: f.Path, Size: f.Size, Mtime: f.Mtime}
	if err := sameVersion(fh, r); err != nil {
		return 0, err
	}
	got, err := io.ReadFull(fh, buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return 0, &wire.Error{Kind: wire.KindChanged, Msg: fmt.Sprintf("read %d bytes, expected %d", got, len(buf))}
	}
	if err != nil {
		return 0, err
	}
	if err := sameVersion(fh, r); err != nil {
		return 0, err
	}
	return got, nil
}

// ManySource is what FetchMany needs of the link to the source agent.
type ManySource interface {
	ReadMany(ctx context.Context, from string, r *wire.ReadMany) (wire.ReadManyData, []byte, error)
}

// Fetched is the outcome of one file of a FetchMany: the entry staged and
// its Staged outcome, or the error that kept it from being staged.
type Fetched struct {
	Entry  wire.Entry
	Staged *tree.Staged
	Err    error
}

// FetchMany pulls the files of ops, all fetches of small files from the
// same source (op.From) whose sizes add up to at most wire.ChunkSize, in one
// round trip, and stages each one as FetchStaged does: size and hash checked
// against op.Want, put in place (after checking op.Have) and made durable by
// the tree's next Sync. It returns one outcome per op, in order.
func FetchMany(ctx context.Context, src ManySource, t *tree.Tree, session string, ops []*wire.Op, progress func(delta int64)) []Fetched {
	out := make([]Fetched, len(ops))
	failAll := func(err error) []Fetched {
		for i := range out {
			out[i] = Fetched{Err: err}
		}
		return out
	}
	req := &wire.ReadMany{Session: session, Files: make([]wire.FileRef, len(ops))}
	for i, op := range ops {
		if op.From != ops[0].From {
			return failAll(errors.New("fetch many: files of several sources"))
		}
		req.Files[i] = wire.FileRef{Path: op.Path, Size: op.Want.Size, Mtime: op.Want.Mtime}
	}
	if err := req.Validate(); err != nil {
		return failAll(fmt.Errorf("fetch many: %w", err))
	}
	// A batch holds up to a chunk's worth of data from the request until
	// its files are staged: it takes a unit of the budget the chunks of
	// large files take, so that however many batches the Applies in
	// flight start, the agent's memory for them stays bounded.
	select {
	case budget <- struct{}{}:
	case <-ctx.Done():
		return failAll(ctx.Err())
	}
	defer func() { <-budget }()
	reply, data, err := src.ReadMany(ctx, ops[0].From, req)
	if err != nil {
		return failAll(err)
	}
	if len(reply.Parts) != len(ops) {
		return failAll(fmt.Errorf("fetch many from %s: %d parts for %d files", ops[0].From, len(reply.Parts), len(ops)))
	}
	data, err = openBatch(&reply, data, ops)
	if err != nil {
		return failAll(fmt.Errorf("fetch many from %s: %w", ops[0].From, err))
	}
	var scratch []byte
	for i, op := range ops {
		p := reply.Parts[i]
		content := data[:p.Len]
		data = data[p.Len:]
		if p.Error != nil {
			e := *p.Error
			out[i].Err = &e
			continue
		}
		// The size claimed is checked against the size asked for before
		// anything is decoded, so a rogue source costs no more memory
		// than the batch it was asked for.
		if int64(p.N) != op.Want.Size {
			out[i].Err = &wire.Error{Kind: wire.KindChanged, Msg: fmt.Sprintf("received %d bytes, expected %d", p.N, op.Want.Size)}
			continue
		}
		if p.Codec != wire.CodecNone {
			if content, err = decodePiece(p.Codec, content, p.N, scratch); err != nil {
				out[i].Err = fmt.Errorf("fetch many: %s: %w", op.Path, err)
				continue
			}
			scratch = content[:0]
		} else if len(content) != p.N {
			out[i].Err = fmt.Errorf("fetch many: %s: %w: %d raw bytes, claims %d", op.Path, ErrBadData, len(content), p.N)
			continue
		}
		out[i].Entry, out[i].Staged, out[i].Err = stageWhole(t, op, content)
		if out[i].Err == nil && progress != nil {
			progress(int64(len(content)))
		}
	}
	return out
}

// openBatch checks that reply's parts add up to data and, when the batch
// was encoded as a whole, decodes it. The parts' claimed lengths must add
// up to no more than the sizes asked for (at most a chunk) before anything
// is decoded, so a rogue source costs no more memory than the batch it was
// asked for.
func openBatch(reply *wire.ReadManyData, data []byte, ops []*wire.Op) ([]byte, error) {
	total, claimed := 0, 0
	var asked int64
	for i, p := range reply.Parts {
		total += p.Len
		claimed += p.N
		asked += ops[i].Want.Size
	}
	if reply.Codec == wire.CodecNone {
		if total != len(data) {
			return nil, fmt.Errorf("parts of %d bytes in %d bytes of data", total, len(data))
		}
		return data, nil
	}
	if int64(claimed) > asked {
		return nil, fmt.Errorf("%w: parts claim %d bytes, %d asked for", ErrBadData, claimed, asked)
	}
	content, err := decodePiece(reply.Codec, data, claimed, nil)
	if err != nil {
		return nil, fmt.Errorf("batch of %d files: %w", len(ops), err)
	}
	reply.Codec = wire.CodecNone
	return content, nil
}

// stageWhole writes content, the whole of op's file, beside its destination
// and stages it.
func stageWhole(t *tree.Tree, op *wire.Op, content []byte) (wire.Entry, *tree.Staged, error) {
	p, err := t.Create(op.Path)
	if err != nil {
		return wire.Entry{}, nil, err
	}
	p.DeferSync()
	if _, err := p.Write(content); err != nil {
		p.Abort()
		return wire.Entry{}, nil, err
	}
	if err := p.Commit(op.Want, op.Have); err != nil {
		return wire.Entry{}, nil, err
	}
	return op.Want, p.Staged(), nil
}
