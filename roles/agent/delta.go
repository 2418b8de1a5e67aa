package agent

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/sync/delta"
	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/sync/xfer"
	"github.com/peerlink/peerlink/wire"
)

// Delta transfer (sync/delta, sync/xfer/delta.go): this agent answers
// another's Spans and Chunks exactly as it answers a Read (mayRead), and,
// as a target, rebuilds a file from its old copy when the hub allows it
// (wire.Op.Delta).

// signatures serves span lists of one session's files from the agent's
// scan cache (store.Signature), computing and recording those it lacks.
// A signature that no longer describes the file only costs a full
// transfer (the rebuilt file's hash is checked), so one recorded however
// recently the file changed is harmless, unlike a cached hash.
type signatures struct {
	a       *Agent
	session string
	// basis: the span list of the target's own old copy, whose record
	// holds as long as size, mtime and inode do (store.Signature.HoldsBasis):
	// the lock this agent set on that copy for the edit changed its ctime,
	// and reading a 1 GiB copy again for that cost more than the transfer.
	basis bool
}

func (g signatures) Spans(path string, f *os.File) ([]delta.Block, error) {
	before, err := tree.Stat(f)
	if err != nil {
		return nil, err
	}
	stamp := store.Cached{Size: before.Size, Mtime: before.Mtime, Ctime: before.Ctime, Ino: before.Ino}
	if s, ok := g.a.db.Signature(g.session, path); ok && (s.Holds(stamp) || g.basis && s.HoldsBasis(stamp)) {
		if spans, err := delta.ParseBlocks(s.Spans, delta.MaxSpan); err == nil && delta.Size(spans) == before.Size {
			return spans, nil
		}
	}
	signer := delta.NewSpans()
	n, err := io.CopyBuffer(signer, io.NewSectionReader(f, 0, before.Size), make([]byte, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("signature of %s: %w", path, err)
	}
	after, err := tree.Stat(f)
	if err != nil {
		return nil, err
	}
	if n != before.Size || after.Size != before.Size || after.Mtime != before.Mtime || after.Ctime != before.Ctime {
		return nil, &wire.Error{Kind: wire.KindChanged, Path: path, Msg: "changed while its signature was computed"}
	}
	spans := signer.Blocks()
	rec := store.PathSignature{Path: path, Signature: store.Signature{Size: before.Size, Mtime: before.Mtime,
		Ctime: before.Ctime, Ino: before.Ino, Spans: delta.AppendBlocks(nil, spans)}}
	if err := g.a.db.PutSignatures(g.session, []store.PathSignature{rec}); err != nil {
		g.a.log.Warn().Err(err).Str("session", g.session).Str("path", path).Msg("record a signature")
	}
	return spans, nil
}

// spans answers a Spans of an attached session's file, as mayRead allows.
func (a *Agent) spans(ctx context.Context, c *broker.Client, in broker.Incoming, m *wire.Spans) {
	s, err := a.mayServe(in, m.Session, m.Path)
	if err != nil {
		a.fail(ctx, c, in, "spans", m.Path, err)
		return
	}
	reply, data, err := xfer.ServeSpans(s.tree, a.cfg.Name, signatures{a: a, session: s.name}, m)
	if err != nil {
		a.fail(ctx, c, in, "spans", m.Path, err)
		return
	}
	if err := c.Reply(ctx, in, &reply, data); err != nil {
		a.log.Debug().Err(err).Msg("spans reply")
	}
}

// chunks answers a Chunks of an attached session's file, as mayRead
// allows.
func (a *Agent) chunks(ctx context.Context, c *broker.Client, in broker.Incoming, m *wire.Chunks) {
	s, err := a.mayServe(in, m.Session, m.Path)
	if err != nil {
		a.fail(ctx, c, in, "chunks", m.Path, err)
		return
	}
	reply, data, err := xfer.ServeChunks(s.tree, a.cfg.Name, m)
	if err != nil {
		a.fail(ctx, c, in, "chunks", m.Path, err)
		return
	}
	if err := c.Reply(ctx, in, &reply, data); err != nil {
		a.log.Debug().Err(err).Msg("chunks reply")
	}
}

// mayServe returns the attached session whose file in asks about, if
// in's sender may read it (mayRead).
func (a *Agent) mayServe(in broker.Incoming, session, path string) (*attached, error) {
	s, err := a.session(session)
	if err != nil {
		return nil, err
	}
	if err := a.mayRead(s, in.From, path); err != nil {
		a.log.Warn().Str("from", in.From).Str("session", session).Str("path", path).Err(err).Msg("read refused")
		return nil, err
	}
	return s, nil
}

func (s source) Spans(ctx context.Context, from string, m *wire.Spans) (wire.SpansData, []byte, error) {
	in, err := s.c.Request(ctx, from, m, nil)
	if err != nil {
		return wire.SpansData{}, nil, err
	}
	rd, ok := in.Msg.(*wire.SpansData)
	if !ok {
		return wire.SpansData{}, nil, fmt.Errorf("spans %s from %s: unexpected reply %s", m.Path, from, in.Type)
	}
	s.count(in.Data)
	return *rd, in.Data, nil
}

func (s source) Chunks(ctx context.Context, from string, m *wire.Chunks) (wire.ChunksData, []byte, error) {
	in, err := s.c.Request(ctx, from, m, nil)
	if err != nil {
		return wire.ChunksData{}, nil, err
	}
	rd, ok := in.Msg.(*wire.ChunksData)
	if !ok {
		return wire.ChunksData{}, nil, fmt.Errorf("chunks %s from %s: unexpected reply %s", m.Path, from, in.Type)
	}
	s.count(in.Data)
	return *rd, in.Data, nil
}

// fetch pulls op's file: by delta when the hub allows it and the local
// copy is a file the op replaces, else whole. deferSync as in
// xfer.FetchStaged.
func (a *Agent) fetch(ctx context.Context, c *broker.Client, s *attached, op *wire.Op, progress func(int64), deferSync bool, onWire *atomic.Int64) (wire.Entry, *tree.Staged, error) {
	src := source{c, onWire}
	// Content that came inline is smaller than any delta's exchange.
	if !op.Delta || op.Inline != nil || op.Have == nil || op.Have.Kind != wire.KindFile {
		if deferSync {
			return xfer.FetchStaged(ctx, src, s.tree, s.name, op, progress)
		}
		e, err := xfer.Fetch(ctx, src, s.tree, s.name, op, progress)
		return e, nil, err
	}
	e, staged, rep, err := xfer.FetchDelta(ctx, src, signatures{a: a, session: s.name, basis: true}, s.tree, s.name, op, progress, deferSync)
	ev := a.log.Info()
	if rep.Fallback != nil {
		ev = ev.AnErr("fallback", rep.Fallback)
	}
	if err == nil && rep.Spans != nil {
		s.received.Store(op.Path, rep.Spans)
	}
	ev.Str("session", s.name).Str("path", op.Path).Int64("size", rep.Size).Int64("received", rep.Received).
		Int64("signatures", rep.SigBytes).Int64("basis_reused", rep.BasisReused).Bool("ok", err == nil).Msg("delta")
	return e, staged, err
}

// hashSigned hashes the file at path, whose state is info, and for a file
// delta may be asked of (delta.MinSize or more) computes its span list in
// the same read and records it, stamped with that state, if the file did
// not change meanwhile: a delta asked of this version right after it was
// saved then reads nothing more on this host.
func (a *Agent) hashSigned(s *attached, path string, info tree.Info) (wire.Hash, error) {
	if info.Size < delta.MinSize {
		return hashFile(s.tree, path)
	}
	f, err := s.tree.OpenRead(path)
	if err != nil {
		return wire.Hash{}, err
	}
	defer f.Close()
	h := sha256.New()
	signer := delta.NewSpans()
	n, err := delta.Feed(context.Background(), f, h, signer, 256<<10)
	if err != nil {
		return wire.Hash{}, err
	}
	var sum wire.Hash
	h.Sum(sum[:0])
	after, err := tree.Stat(f)
	if err != nil || n != info.Size || after.Size != info.Size || after.Mtime != info.Mtime || after.Ctime != info.Ctime || after.Ino != info.Ino {
		return sum, nil // the hash is the caller's to judge; no signature of a moving file
	}
	rec := store.PathSignature{Path: path, Signature: store.Signature{Size: info.Size, Mtime: info.Mtime,
		Ctime: info.Ctime, Ino: info.Ino, Spans: delta.AppendBlocks(nil, signer.Blocks())}}
	if err := a.db.PutSignatures(s.name, []store.PathSignature{rec}); err != nil {
		a.log.Warn().Err(err).Str("session", s.name).Str("path", path).Msg("record a signature")
	}
	return sum, nil
}
