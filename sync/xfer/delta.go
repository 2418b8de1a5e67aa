package xfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync/atomic"

	"github.com/peerlink/peerlink/sync/delta"
	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/wire"
)

// DeltaSource is what a delta fetch needs of the link to the source agent:
// Read, and the two signature requests (wire/delta.go).
type DeltaSource interface {
	Source
	Spans(ctx context.Context, from string, m *wire.Spans) (wire.SpansData, []byte, error)
	Chunks(ctx context.Context, from string, m *wire.Chunks) (wire.ChunksData, []byte, error)
}

// Signatures gives the span list of the file open as f at path: the
// agent's scan cache's, when it describes f as it is, else read from f
// (and cached). Both the source's new version and the target's basis come
// from it.
type Signatures interface {
	Spans(path string, f *os.File) ([]delta.Block, error)
}

// DeltaReport says what a fetch moved: Received bytes of file content
// through Read, the failed delta's and the whole fetch's after a fallback
// (the signatures come on top, SigBytes), BasisReused bytes
// taken from the old copy. Fallback, when set, says why the file was
// fetched whole after all.
type DeltaReport struct {
	Size        int64
	Received    int64
	SigBytes    int64
	BasisReused int64
	Fallback    error
	// Spans, after a delta that completed, are the new version's span
	// list as the source sent it: the target's signature of the file it
	// now holds, which it need not read again to compute.
	Spans []delta.Block
}

// FetchDelta is FetchStaged (deferSync) or Fetch of a file the target holds
// an older copy of, op.Have: the new version is rebuilt from that copy
// plus the ranges only the source holds, and committed exactly as a full
// fetch is (size and hash checked against op.Want, op.Have checked at the
// rename). Whatever keeps the delta from completing (the copy unreadable,
// changed, the source without signatures, a rebuilt file whose hash is
// wrong) ends in one full fetch instead; never in a mixed file. But a
// local copy that is no longer op.Have ends in the KindChanged error a
// whole fetch's commit would meet, without that fetch.
func FetchDelta(ctx context.Context, src DeltaSource, sigs Signatures, t *tree.Tree, session string, op *wire.Op, progress func(int64), deferSync bool) (wire.Entry, *tree.Staged, DeltaReport, error) {
	rep := DeltaReport{Size: op.Want.Size}
	e, staged, err := fetchDelta(ctx, src, sigs, t, session, op, progress, deferSync, &rep)
	if err == nil || ctx.Err() != nil {
		return e, staged, rep, err
	}
	if moved := notHave(t, op); moved != nil {
		// The copy to replace is no longer op.Have (a user saved it, or
		// removed it): the commit of a whole fetch would refuse it too, after
		// the whole file had crossed the link for nothing.
		return wire.Entry{}, nil, rep, moved
	}
	rep.Fallback = err
	rep.BasisReused = 0
	counted := func(n int64) {
		rep.Received += n
		if progress != nil {
			progress(n)
		}
	}
	e, staged, err = fetchFile(ctx, src, t, session, op, counted, deferSync)
	return e, staged, rep, err
}

// notHave returns a *wire.Error of KindChanged if the local copy of op's
// path is no longer the file op.Have, as the commit checks it; nil if it
// still is, or cannot be looked at (the whole fetch then finds out).
func notHave(t *tree.Tree, op *wire.Op) error {
	if op.Have == nil {
		return nil
	}
	info, err := t.Lstat(op.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &wire.Error{Kind: wire.KindChanged, Path: op.Path, Msg: "removed while its new version was rebuilt from it"}
	case err != nil:
		return nil
	case info.Kind != op.Have.Kind || info.Size != op.Have.Size || info.Mtime != op.Have.Mtime:
		return &wire.Error{Kind: wire.KindChanged, Path: op.Path, Msg: fmt.Sprintf(
			"changed while its new version was rebuilt from it (now a %s of %d bytes, modified %d)", info.TypeString(), info.Size, info.Mtime)}
	}
	return nil
}

func fetchDelta(ctx context.Context, src DeltaSource, sigs Signatures, t *tree.Tree, session string, op *wire.Op, progress func(int64), deferSync bool, rep *DeltaReport) (wire.Entry, *tree.Staged, error) {
	if op.Have == nil || op.Have.Kind != wire.KindFile {
		return wire.Entry{}, nil, errors.New("delta: no old copy")
	}
	basis, err := t.OpenRead(op.Path)
	if err != nil {
		return wire.Entry{}, nil, fmt.Errorf("delta: basis: %w", err)
	}
	defer basis.Close()
	before, err := tree.Stat(basis)
	if err != nil {
		return wire.Entry{}, nil, fmt.Errorf("delta: basis: %w", err)
	}
	if before.Size != op.Have.Size || before.Mtime != op.Have.Mtime {
		return wire.Entry{}, nil, &wire.Error{Kind: wire.KindChanged, Path: op.Path, Msg: "delta: the old copy changed since the scan"}
	}
	plan, want, err := planDelta(ctx, src, sigs, session, op, basis, rep)
	if err != nil {
		return wire.Entry{}, nil, err
	}
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
	if err := rebuild(ctx, src, session, op, plan, basis, p, progress, rep); err != nil {
		return wire.Entry{}, nil, err
	}
	// The basis must be what it was throughout, or the rebuilt file may
	// mix two versions of it (the whole-file hash would refuse it too).
	if after, err := tree.Stat(basis); err != nil || after.Size != before.Size || after.Mtime != before.Mtime || after.Ctime != before.Ctime || after.Ino != before.Ino {
		return wire.Entry{}, nil, &wire.Error{Kind: wire.KindChanged, Path: op.Path, Msg: "delta: the old copy changed while the new one was rebuilt from it"}
	}
	if err := p.Commit(op.Want, op.Have); err != nil {
		return wire.Entry{}, nil, err
	}
	committed = true
	rep.Spans = want
	return op.Want, p.Staged(), nil
}

// planDelta asks the source for the wanted version's signatures and
// matches them with the basis's: the pieces of the new file, in order, and
// the new version's spans.
func planDelta(ctx context.Context, src DeltaSource, sigs Signatures, session string, op *wire.Op, basis *os.File, rep *DeltaReport) ([]delta.Piece, []delta.Block, error) {
	have, err := sigs.Spans(op.Path, basis)
	if err != nil {
		return nil, nil, fmt.Errorf("delta: basis signature: %w", err)
	}
	want, err := wantSpans(ctx, src, session, op, rep)
	if err != nil {
		return nil, nil, err
	}
	spans := delta.Index{}
	spans.Add(0, have)
	idx, ranges := delta.Unmatched(want, spans)
	chunks, err := wantChunks(ctx, src, session, op, idx, ranges, rep)
	if err != nil {
		return nil, nil, err
	}
	basisChunks := delta.Index{}
	if len(idx) > 0 {
		for _, r := range delta.Unused(have, want) {
			c := delta.NewChunks()
			if _, err := io.Copy(c, io.NewSectionReader(basis, r.Off, r.Len)); err != nil {
				return nil, nil, fmt.Errorf("delta: basis: %w", err)
			}
			basisChunks.Add(r.Off, c.Blocks())
		}
	}
	return delta.Plan(want, spans, chunks, basisChunks), want, nil
}

// wantSpans pages through the span list of the version op wants.
func wantSpans(ctx context.Context, src DeltaSource, session string, op *wire.Op, rep *DeltaReport) ([]delta.Block, error) {
	var out []delta.Block
	for {
		m := &wire.Spans{Session: session, Path: op.Path, Size: op.Want.Size, Mtime: op.Want.Mtime, First: len(out)}
		reply, data, err := src.Spans(ctx, op.From, m)
		if err != nil {
			return nil, fmt.Errorf("delta: spans: %w", err)
		}
		rep.SigBytes += int64(len(data))
		blocks, err := delta.ParseBlocks(data, delta.MaxSpan)
		if err == nil && len(blocks) != reply.N {
			err = fmt.Errorf("%d spans, said %d", len(blocks), reply.N)
		}
		if err != nil {
			return nil, fmt.Errorf("delta: spans from %s: %w", op.From, err)
		}
		out = append(out, blocks...)
		if len(out) >= reply.Total || reply.N == 0 {
			break
		}
	}
	if delta.Size(out) != op.Want.Size {
		return nil, fmt.Errorf("delta: spans from %s cover %d bytes of %d", op.From, delta.Size(out), op.Want.Size)
	}
	return out, nil
}

// wantChunks asks the chunk lists of the spans the basis lacks, as few
// requests as the bounds allow; by span index.
func wantChunks(ctx context.Context, src DeltaSource, session string, op *wire.Op, idx []int, ranges []delta.Range, rep *DeltaReport) (map[int][]delta.Block, error) {
	out := make(map[int][]delta.Block, len(idx))
	for len(idx) > 0 {
		m := &wire.Chunks{Session: session, Path: op.Path, Size: op.Want.Size, Mtime: op.Want.Mtime}
		var total int64
		n := 0
		for n < len(idx) && n < wire.MaxChunkSpans && total+ranges[n].Len <= wire.MaxChunkBytes {
			m.Spans = append(m.Spans, wire.ByteRange{Off: ranges[n].Off, Len: ranges[n].Len})
			total += ranges[n].Len
			n++
		}
		reply, data, err := src.Chunks(ctx, op.From, m)
		if err != nil {
			return nil, fmt.Errorf("delta: chunks: %w", err)
		}
		rep.SigBytes += int64(len(data))
		blocks, err := delta.ParseBlocks(data, delta.MaxChunk)
		if err == nil && len(reply.Counts) != n {
			err = fmt.Errorf("chunk lists of %d spans, asked %d", len(reply.Counts), n)
		}
		if err != nil {
			return nil, fmt.Errorf("delta: chunks from %s: %w", op.From, err)
		}
		for k, c := range reply.Counts {
			if c > len(blocks) {
				return nil, fmt.Errorf("delta: chunks from %s: %d chunk signatures, fewer than said", op.From, len(blocks))
			}
			// delta.Plan fetches a span whose chunks do not add up to it.
			out[idx[k]] = blocks[:c]
			blocks = blocks[c:]
		}
		idx, ranges = idx[n:], ranges[n:]
	}
	return out, nil
}

// rebuild writes the pieces of the new version to p in file order: the
// basis's from the basis, the rest read from the source, Window reads in
// flight ahead of the writer as in a full fetch.
func rebuild(ctx context.Context, src Source, session string, op *wire.Op, plan []delta.Piece, basis *os.File, p *tree.Pending, progress func(int64), rep *DeltaReport) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	queue := make(chan chan chunkResult, Window)
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
	go requestPieces(ctx, src, session, op, plan, queue, &acquired)

	buf := make([]byte, 256<<10)
	for _, pc := range plan {
		if !pc.Fetched() {
			if _, err := io.CopyBuffer(p, io.NewSectionReader(basis, pc.From, pc.Len), buf); err != nil {
				return fmt.Errorf("delta: copy from the old copy: %w", err)
			}
			rep.BasisReused += pc.Len
			continue
		}
		for left := pc.Len; left > 0; {
			res, ok := <-queue
			if !ok {
				if err := ctx.Err(); err != nil {
					return err
				}
				return errors.New("delta: the reads ended before the pieces")
			}
			var r chunkResult
			select {
			case r = <-res:
			case <-ctx.Done():
				return ctx.Err()
			}
			if r.err != nil {
				return r.err
			}
			if _, err := p.Write(r.data); err != nil {
				return err
			}
			released++
			<-budget
			left -= int64(len(r.data))
			rep.Received += int64(len(r.data))
			if progress != nil {
				progress(int64(len(r.data)))
			}
		}
	}
	return ctx.Err()
}

// requestPieces sends the reads of the fetched pieces, in order, each
// holding a unit of the budget until written; it closes queue when done.
func requestPieces(ctx context.Context, src Source, session string, op *wire.Op, plan []delta.Piece, queue chan<- chan chunkResult, acquired *atomic.Int64) {
	defer close(queue)
	want := op.Want
	for _, pc := range plan {
		if !pc.Fetched() {
			continue
		}
		for off := pc.Off; off < pc.Off+pc.Len; off += wire.ChunkSize {
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
			r := &wire.Read{Session: session, Path: op.Path, Offset: off, Length: int(min(wire.ChunkSize, pc.Off+pc.Len-off)),
				Size: want.Size, Mtime: want.Mtime}
			go func() {
				reply, data, err := src.Read(ctx, op.From, r)
				if err == nil {
					data, err = decodeChunk(reply, data, r.Length)
				}
				res <- chunkResult{data: data, eof: reply.EOF, err: err}
			}()
		}
	}
}
