package xfer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/peerlink/peerlink/sync/delta"
	"github.com/peerlink/peerlink/wire"
)

// readSignatures computes every span list from the file, as an agent with
// an empty cache does. fail, if set, is returned for the target's basis.
type readSignatures struct{ fail error }

func (g readSignatures) Spans(path string, f *os.File) ([]delta.Block, error) {
	if g.fail != nil {
		return nil, g.fail
	}
	s := delta.NewSpans()
	if _, err := io.Copy(s, io.NewSectionReader(f, 0, 1<<62)); err != nil {
		return nil, err
	}
	return s.Blocks(), nil
}

// fakeDeltaSource serves the signature requests as the source agent would;
// corrupt, if set, may spoil the data of a read before it is returned.
type fakeDeltaSource struct {
	*fakeSource
	corrupt func(r *wire.Read, data []byte)

	mu       sync.Mutex
	sigBytes int64
}

func (s *fakeDeltaSource) Read(ctx context.Context, from string, r *wire.Read) (wire.ReadData, []byte, error) {
	reply, data, err := s.fakeSource.Read(ctx, from, r)
	if err == nil && s.corrupt != nil {
		s.mu.Lock()
		s.corrupt(r, data)
		s.mu.Unlock()
	}
	return reply, data, err
}

func (s *fakeDeltaSource) Spans(ctx context.Context, from string, m *wire.Spans) (wire.SpansData, []byte, error) {
	if err := m.Validate(); err != nil {
		return wire.SpansData{}, nil, err
	}
	reply, data, err := ServeSpans(s.t, srcHost, readSignatures{}, m)
	s.count(len(data))
	return reply, data, err
}

func (s *fakeDeltaSource) Chunks(ctx context.Context, from string, m *wire.Chunks) (wire.ChunksData, []byte, error) {
	if err := m.Validate(); err != nil {
		return wire.ChunksData{}, nil, err
	}
	reply, data, err := ServeChunks(s.t, srcHost, m)
	if err == nil {
		err = reply.Validate()
	}
	s.count(len(data))
	return reply, data, err
}

func (s *fakeDeltaSource) count(n int) {
	s.mu.Lock()
	s.sigBytes += int64(n)
	s.mu.Unlock()
}

// deltaCase puts an old copy on the target and its edited version on the
// source, and returns the source, the op and the new content.
func deltaCase(t *testing.T, tr *trees, size int) (*fakeDeltaSource, *wire.Op, []byte) {
	t.Helper()
	old := randomBytes(size, 11)
	ins := randomBytes(1024, 12)
	neu := append(append(bytes.Clone(old[:size/2]), ins...), old[size/2:]...)
	have := put(t, tr.dstDir, "big.bin", old, 0o644, mtime)
	want := put(t, tr.srcDir, "big.bin", neu, 0o644, mtime.Add(time.Hour))
	op := fetchOp(want, &have)
	op.Delta = true
	return &fakeDeltaSource{fakeSource: &fakeSource{t: tr.src}}, op, neu
}

func fetchDeltaOnce(t *testing.T, src DeltaSource, sigs Signatures, tr *trees, op *wire.Op) (DeltaReport, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _, rep, err := FetchDelta(ctx, src, sigs, tr.dst, "s", op, nil, false)
	return rep, err
}

func TestDeltaRebuildsAnInsertFromTheOldCopy(t *testing.T) {
	tr := newTrees(t)
	src, op, neu := deltaCase(t, tr, 6<<20)
	rep, err := fetchDeltaOnce(t, src, readSignatures{}, tr, op)
	if err != nil || rep.Fallback != nil {
		t.Fatalf("delta: %v (fallback %v)", err, rep.Fallback)
	}
	sameFile(t, tr.dstDir, op.Want, neu)
	noTemp(t, tr.dstDir)
	if rep.Received > 3*delta.MaxChunk || rep.Received+rep.BasisReused != op.Want.Size || rep.SigBytes != src.sigBytes {
		t.Errorf("report %+v for a 1 KiB insert; source sent %d signature bytes", rep, src.sigBytes)
	}
}

func TestDeltaBasisChangedMidwayFallsBackToAWholeFetch(t *testing.T) {
	tr := newTrees(t)
	src, op, neu := deltaCase(t, tr, 6<<20)
	basis := filepath.Join(tr.dstDir, "big.bin")
	once := sync.Once{}
	src.before = func(*wire.Read) {
		// The old copy is rewritten in place, its size and mtime kept: only
		// what the rebuild reads from it can tell.
		once.Do(func() {
			f, err := os.OpenFile(basis, os.O_WRONLY, 0)
			if err != nil {
				t.Error(err)
				return
			}
			f.WriteAt(bytes.Repeat([]byte{0xAA}, 1<<20), 4<<20)
			f.Close()
			os.Chtimes(basis, mtime, mtime)
		})
	}
	rep, err := fetchDeltaOnce(t, src, readSignatures{}, tr, op)
	if err != nil || !isKind(rep.Fallback, wire.KindChanged) {
		t.Fatalf("fetch: %v, fallback %v; want a whole fetch after the change was seen", err, rep.Fallback)
	}
	sameFile(t, tr.dstDir, op.Want, neu)
	noTemp(t, tr.dstDir)
	if rep.Received < op.Want.Size {
		t.Errorf("received %d bytes in all, want at least the whole %d", rep.Received, op.Want.Size)
	}
}

func TestDeltaCorruptDataFetchesTheFileAgainWhole(t *testing.T) {
	tr := newTrees(t)
	src, op, neu := deltaCase(t, tr, 6<<20)
	reads := 0
	src.corrupt = func(r *wire.Read, data []byte) {
		if reads++; reads == 1 {
			data[len(data)/2] ^= 0xFF
		}
	}
	rep, err := fetchDeltaOnce(t, src, readSignatures{}, tr, op)
	if err != nil || !isKind(rep.Fallback, wire.KindChanged) {
		t.Fatalf("fetch: %v, fallback %v; want the hash refused, then a whole fetch", err, rep.Fallback)
	}
	sameFile(t, tr.dstDir, op.Want, neu)
	noTemp(t, tr.dstDir)
}

func TestDeltaCorruptEveryTimeLeavesTheOldCopy(t *testing.T) {
	tr := newTrees(t)
	src, op, _ := deltaCase(t, tr, 3<<20)
	old, _ := os.ReadFile(filepath.Join(tr.dstDir, "big.bin"))
	src.corrupt = func(r *wire.Read, data []byte) { data[0] ^= 0xFF }
	rep, err := fetchDeltaOnce(t, src, readSignatures{}, tr, op)
	if !isKind(err, wire.KindChanged) || rep.Fallback == nil {
		t.Fatalf("fetch: %v, fallback %v; want both attempts refused by the hash", err, rep.Fallback)
	}
	sameFile(t, tr.dstDir, *op.Have, old)
	noTemp(t, tr.dstDir)
}

func TestDeltaUnreadableBasisFetchesWhole(t *testing.T) {
	tr := newTrees(t)
	src, op, neu := deltaCase(t, tr, 3<<20)
	rep, err := fetchDeltaOnce(t, src, readSignatures{fail: fs.ErrPermission}, tr, op)
	if err != nil || !errors.Is(rep.Fallback, fs.ErrPermission) {
		t.Fatalf("fetch: %v, fallback %v; want a whole fetch", err, rep.Fallback)
	}
	sameFile(t, tr.dstDir, op.Want, neu)
	if rep.Received != op.Want.Size {
		t.Errorf("received %d bytes, want %d", rep.Received, op.Want.Size)
	}
}

func TestDeltaLinkLostMidwayLeavesNoTempFile(t *testing.T) {
	tr := newTrees(t)
	src, op, _ := deltaCase(t, tr, 6<<20)
	old, _ := os.ReadFile(filepath.Join(tr.dstDir, "big.bin"))
	ctx, cancel := context.WithCancel(context.Background())
	src.before = func(*wire.Read) { cancel() }
	_, _, _, err := FetchDelta(ctx, src, readSignatures{}, tr.dst, "s", op, nil, false)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("fetch: %v, want the cancellation", err)
	}
	sameFile(t, tr.dstDir, *op.Have, old)
	noTemp(t, tr.dstDir)
}

// The wire's bounds are sync/delta's sizes, which wire does not import.
func TestWireBoundsAreDeltaSizes(t *testing.T) {
	if wire.MaxSpanLen != delta.MaxSpan || wire.SigBlockSize != delta.BlockSize {
		t.Fatalf("wire: span %d, block %d; delta: span %d, block %d", wire.MaxSpanLen, wire.SigBlockSize, delta.MaxSpan, delta.BlockSize)
	}
}

// A user's save of the target's copy while the delta is rebuilt from it
// (size and mtime changed) ends the fetch as the commit would, with the
// user's copy in place: a whole fetch would only cross the link for its
// commit to refuse it.
func TestDeltaBasisSavedMidwayKeepsTheSaveWithoutAWholeFetch(t *testing.T) {
	tr := newTrees(t)
	src, op, _ := deltaCase(t, tr, 6<<20)
	basis := filepath.Join(tr.dstDir, "big.bin")
	saved := randomBytes(5<<20, 13)
	once := sync.Once{}
	src.before = func(*wire.Read) {
		once.Do(func() {
			if err := os.WriteFile(basis, saved, 0o644); err != nil {
				t.Error(err)
			}
		})
	}
	rep, err := fetchDeltaOnce(t, src, readSignatures{}, tr, op)
	if !isKind(err, wire.KindChanged) || rep.Fallback != nil {
		t.Fatalf("fetch: %v, fallback %v; want the change refused, no whole fetch", err, rep.Fallback)
	}
	if got, _ := os.ReadFile(basis); !bytes.Equal(got, saved) {
		t.Errorf("the target's copy is not the user's save (%d bytes)", len(got))
	}
	noTemp(t, tr.dstDir)
	if rep.Received >= op.Want.Size/2 {
		t.Errorf("received %d bytes of a %d-byte file whose copy changed: a whole fetch went on", rep.Received, op.Want.Size)
	}
}
