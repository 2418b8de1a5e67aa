package xfer

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/wire"
)

// Window is how many chunks of one file a target keeps requested ahead of
// the one it is writing: enough to hide a WAN round trip, small enough that a
// transfer holds at most Window+1 chunks in memory.
const Window = 8

// Budget bounds the chunks requested and not yet written across every
// fetch of the process: with many large files in flight at once, Window
// chunks each would hold fetchesInFlight × (Window+1) MiB; the budget holds
// the agent's memory for chunks to Budget MiB whatever the file sizes.
const Budget = 32

var budget = make(chan struct{}, Budget)

// Source is all a fetch needs of the link to the source agent.
type Source interface {
	Read(ctx context.Context, from string, r *wire.Read) (wire.ReadData, []byte, error)
}

type chunkResult struct {
	data []byte
	eof  bool
	err  error
}

// Fetch pulls op's file from op.From into t and commits it atomically, after
// checking its size and content hash against op.Want and that the local copy
// is still op.Have. progress is called with the bytes written so far as they
// grow. It returns the entry as committed.
func Fetch(ctx context.Context, src Source, t *tree.Tree, session string, op *wire.Op, progress func(delta int64)) (wire.Entry, error) {
	e, _, err := fetchFile(ctx, src, t, session, op, progress, false)
	return e, err
}

// FetchStaged is Fetch with the commit's durable half deferred (see
// tree.Pending.DeferSync): the file is received, its size and hash checked,
// its mode and mtime set, and it is staged beside its destination. The
// next t.Sync makes it durable and puts it in place (after checking op.Have)
// for many files at once, with one syncfs instead of two fsyncs per file.
// The caller reports the file as written only after a Sync, and only if the
// returned Staged's Err is nil.
func FetchStaged(ctx context.Context, src Source, t *tree.Tree, session string, op *wire.Op, progress func(delta int64)) (wire.Entry, *tree.Staged, error) {
	return fetchFile(ctx, src, t, session, op, progress, true)
}

func fetchFile(ctx context.Context, src Source, t *tree.Tree, session string, op *wire.Op, progress func(delta int64), deferSync bool) (wire.Entry, *tree.Staged, error) {
	p, err := t.Create(op.Path)
	if err != nil {
		return wire.Entry{}, nil, err
	}
	if deferSync {
		p.DeferSync()
	}
	committed := false
	defer func() {
		if !committed {
			p.Abort()
		}
	}()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	want := op.Want
	// Requests go out in order; each has its own result channel, queued in
	// order, so the writer consumes chunks in file order while up to Window
	// later ones are already on their way.
	queue := make(chan chan chunkResult, Window)
	// Once a large chunk arrives uncompressed, the rest is asked for raw,
	// but for every probeEvery-th chunk: the file is not worth the source's
	// CPU, yet a file that turns compressible further on (an archive's
	// stored part, a CAD file past its embedded images) is compressed again.
	var incompressible atomic.Bool
	// Every chunk requested holds a unit of the budget until it is written;
	// on the way out, what was requested and not written gives its units
	// back once the requester has stopped.
	var acquired atomic.Int64
	var released int64
	defer func() {
		cancel()
		for range queue {
		}
		for n := acquired.Load() - released; n > 0; n-- {
			<-budget
		}
	}()
	go func() {
		defer close(queue)
		for off := int64(0); off < want.Size; off += wire.ChunkSize {
			select {
			case budget <- struct{}{}:
				acquired.Add(1)
			case <-ctx.Done():
				return
			}
			res := make(chan chunkResult, 1)
			select {
			case queue <- res:
			case <-ctx.Done():
				return
			}
			r := &wire.Read{Session: session, Path: op.Path, Offset: off, Length: int(min(wire.ChunkSize, want.Size-off)),
				Size: want.Size, Mtime: want.Mtime, Raw: incompressible.Load() && (off/wire.ChunkSize)%probeEvery != 0}
			go func() {
				reply, data, err := src.Read(ctx, op.From, r)
				if err == nil {
					data, err = decodeChunk(reply, data, r.Length)
				}
				if err == nil && !r.Raw && reply.N >= 64<<10 {
					incompressible.Store(reply.Codec == wire.CodecNone)
				}
				res <- chunkResult{data: data, eof: reply.EOF, err: err}
			}()
		}
	}()

	for res := range queue {
		var r chunkResult
		select {
		case r = <-res:
		case <-ctx.Done():
			return wire.Entry{}, nil, ctx.Err()
		}
		if r.err != nil {
			return wire.Entry{}, nil, r.err
		}
		if _, err := p.Write(r.data); err != nil {
			return wire.Entry{}, nil, err
		}
		released++
		<-budget
		if progress != nil {
			progress(int64(len(r.data)))
		}
	}
	if err := ctx.Err(); err != nil {
		return wire.Entry{}, nil, err
	}
	if err := p.Commit(want, op.Have); err != nil {
		return wire.Entry{}, nil, err
	}
	committed = true
	return want, p.Staged(), nil
}

// decodeChunk returns the content of a chunk asked for want bytes: a reply
// claiming another length is refused before anything is decoded.
func decodeChunk(reply wire.ReadData, data []byte, want int) ([]byte, error) {
	if reply.N != want {
		return nil, &wire.Error{Kind: wire.KindChanged, Msg: fmt.Sprintf("chunk of %d bytes, expected %d", reply.N, want)}
	}
	out, err := decodePiece(reply.Codec, data, want, nil)
	if err != nil {
		return nil, fmt.Errorf("chunk: %w", err)
	}
	return out, nil
}
