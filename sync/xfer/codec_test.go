package xfer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/peerlink/peerlink/wire"
)

// Compressible content goes encoded and comes back whole; content that
// does not get an eighth smaller, and pieces too small to bother, go raw.
func TestCodecRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want wire.Codec
	}{
		{"text chunk", compressible(wire.ChunkSize), wire.CodecZstd},
		{"small text file", compressible(3000), wire.CodecZstd},
		{"the smallest piece compressed", compressible(minCompress), wire.CodecZstd},
		{"one byte short of it", compressible(minCompress - 1), wire.CodecNone},
		{"random chunk", randomBytes(wire.ChunkSize, 1), wire.CodecNone},
		{"small random file", randomBytes(5000, 2), wire.CodecNone},
		{"a few bytes", []byte("aaaaaaaaaaaaaaaaaaaaaaaaaaaa"), wire.CodecNone},
		{"nothing", nil, wire.CodecNone},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, enc := encodePiece(nil, tc.data)
			if c != tc.want {
				t.Fatalf("encoded with %s, want %s", c, tc.want)
			}
			if c != wire.CodecNone && len(enc) >= len(tc.data)-len(tc.data)/8 {
				t.Errorf("sent encoded in %d bytes for %d of content", len(enc), len(tc.data))
			}
			got, err := decodePiece(c, enc, len(tc.data), nil)
			if err != nil || !bytes.Equal(got, tc.data) {
				t.Fatalf("decoded %d bytes (%v), want the %d encoded", len(got), err, len(tc.data))
			}
		})
	}
}

// zstdFrame encodes data as one frame, as a source would.
func zstdFrame(t *testing.T, data []byte) []byte {
	t.Helper()
	c, enc := encodePiece(nil, data)
	if c != wire.CodecZstd {
		t.Fatalf("test content not compressible (%s)", c)
	}
	return enc
}

// withContentSize rewrites the content size a frame's header declares, as
// a rogue peer would to make a target allocate or write what it claims.
func withContentSize(t *testing.T, frame []byte, size uint64) []byte {
	t.Helper()
	out := bytes.Clone(frame)
	fhd := out[4]
	at := 5 + int([]int{0, 1, 2, 4}[fhd&3])
	if fhd&0x20 == 0 {
		at++ // window descriptor
	}
	switch fhd >> 6 {
	case 1:
		binary.LittleEndian.PutUint16(out[at:], uint16(size-256))
	case 2:
		binary.LittleEndian.PutUint32(out[at:], uint32(size))
	case 3:
		binary.LittleEndian.PutUint64(out[at:], size)
	default:
		t.Fatalf("frame header %#x has no content size to rewrite", fhd)
	}
	return out
}

// A rogue or broken peer's data is refused as ErrBadData, never decoded
// beyond what it claims, and what it claims never beyond a chunk.
func TestDecodePieceRefuses(t *testing.T) {
	text := compressible(64 << 10)
	frame := zstdFrame(t, text)
	big := make([]byte, 4*wire.ChunkSize) // zeros: a bomb of a few hundred bytes
	bomb, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	bigFrame := bomb.EncodeAll(big, nil)
	var noSize bytes.Buffer // a streamed frame declares no content size
	w, err := zstd.NewWriter(&noSize, zstd.WithSingleSegment(false))
	if err != nil {
		t.Fatal(err)
	}
	w.Write(text[:1000])
	w.Flush() // the header goes out before the size is known
	w.Write(text[1000:])
	w.Close()

	for _, tc := range []struct {
		name  string
		codec wire.Codec
		data  []byte
		n     int
	}{
		{"truncated frame", wire.CodecZstd, frame[:len(frame)/2], len(text)},
		{"garbage", wire.CodecZstd, randomBytes(4000, 3), len(text)},
		{"empty data", wire.CodecZstd, nil, len(text)},
		{"a frame claiming fewer bytes than it declares", wire.CodecZstd, frame, len(text) - 1},
		{"a frame claiming more bytes than it declares", wire.CodecZstd, frame, len(text) + 1},
		{"a header lying about the content, short", wire.CodecZstd, withContentSize(t, frame, 1000), 1000},
		{"a header lying about the content, long", wire.CodecZstd, withContentSize(t, frame, 70<<10), 70 << 10},
		{"a frame declaring no size", wire.CodecZstd, noSize.Bytes(), len(text)},
		{"more than a chunk claimed", wire.CodecZstd, bigFrame, len(big)},
		{"more than a chunk in a frame claiming a chunk", wire.CodecZstd, withContentSize(t, bigFrame, wire.ChunkSize), wire.ChunkSize},
		{"a second frame after the one claimed", wire.CodecZstd, append(bytes.Clone(frame), bigFrame...), len(text)},
		{"negative length", wire.CodecZstd, frame, -1},
		{"raw data of another length", wire.CodecNone, text[:100], 101},
		{"encoded data labelled raw", wire.CodecNone, frame, len(text)},
		{"raw data labelled zstd", wire.CodecZstd, text, len(text)},
		{"an unknown codec", wire.Codec(9), frame, len(text)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodePiece(tc.codec, tc.data, tc.n, nil)
			if !errors.Is(err, ErrBadData) {
				t.Errorf("decoded %d bytes (%v), want ErrBadData", len(got), err)
			}
		})
	}
}

// FuzzDecodePiece: whatever a peer sends, decoding does not panic and
// yields exactly the length claimed or an error.
func FuzzDecodePiece(f *testing.F) {
	text := compressible(10 << 10)
	_, frame := encodePiece(nil, text)
	f.Add(uint8(wire.CodecZstd), frame, len(text))
	f.Add(uint8(wire.CodecNone), text, len(text))
	f.Add(uint8(7), frame, 5)
	f.Fuzz(func(t *testing.T, codec uint8, data []byte, n int) {
		got, err := decodePiece(wire.Codec(codec), data, n, nil)
		if err == nil && len(got) != n {
			t.Fatalf("decoded %d bytes, claimed %d", len(got), n)
		}
	})
}

// A chunk that arrives corrupt, claims another length, or names a codec
// the target does not know fails the fetch and leaves nothing behind.
func TestFetchRefusesBadChunk(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(rep *wire.ReadData, data []byte) []byte
		want   func(error) bool
	}{
		{"corrupt", func(rep *wire.ReadData, data []byte) []byte { return data[:len(data)/2] },
			func(err error) bool { return errors.Is(err, ErrBadData) }},
		{"unknown codec", func(rep *wire.ReadData, data []byte) []byte { rep.Codec = 5; return data },
			func(err error) bool { return errors.Is(err, ErrBadData) }},
		{"labelled raw", func(rep *wire.ReadData, data []byte) []byte { rep.Codec = wire.CodecNone; return data },
			func(err error) bool { return errors.Is(err, ErrBadData) }},
		{"claims more than asked", func(rep *wire.ReadData, data []byte) []byte { rep.N++; return data },
			func(err error) bool { return isKind(err, wire.KindChanged) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTrees(t)
			want := put(t, tr.srcDir, "f", compressible(3*wire.ChunkSize), 0o644, mtime)
			src := sourceFunc(func(ctx context.Context, from string, r *wire.Read) (wire.ReadData, []byte, error) {
				rep, data, err := (&fakeSource{t: tr.src}).Read(ctx, from, r)
				if err == nil && r.Offset == wire.ChunkSize {
					if rep.Codec != wire.CodecZstd {
						t.Errorf("compressible chunk sent %s", rep.Codec)
					}
					data = tc.tamper(&rep, data)
				}
				return rep, data, err
			})
			_, _, err := fetch(t, src, tr.dst, fetchOp(want, nil))
			if !tc.want(err) {
				t.Errorf("fetch: %v", err)
			}
			if _, err := os.Lstat(filepath.Join(tr.dstDir, "f")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a refused fetch left the file: %v", err)
			}
			noTemp(t, tr.dstDir)
		})
	}
}

type manyFunc func(ctx context.Context, from string, r *wire.ReadMany) (wire.ReadManyData, []byte, error)

func (f manyFunc) ReadMany(ctx context.Context, from string, r *wire.ReadMany) (wire.ReadManyData, []byte, error) {
	return f(ctx, from, r)
}

// In a batch, a file whose part is corrupt, claims another length or names
// an unknown codec fails alone; the intact one lands.
func TestFetchManyRefusesBadParts(t *testing.T) {
	tr := newTrees(t)
	names := []string{"corrupt", "longer", "unknown", "intact"}
	var ops []*wire.Op
	for i, name := range names {
		ops = append(ops, fetchOp(put(t, tr.srcDir, name, compressible(10<<10+i), 0o644, mtime), nil))
	}
	src := manyFunc(func(ctx context.Context, from string, r *wire.ReadMany) (wire.ReadManyData, []byte, error) {
		rep, data, err := (&manySource{t: tr.src}).ReadMany(ctx, from, r)
		if err != nil {
			return rep, data, err
		}
		for _, p := range rep.Parts {
			if p.Codec != wire.CodecZstd {
				t.Errorf("compressible file sent %s", p.Codec)
			}
		}
		copy(data, randomBytes(rep.Parts[0].Len, 9)) // same length, not a frame
		rep.Parts[1].N++
		rep.Parts[2].Codec = 5
		return rep, data, nil
	})
	out, _ := fetchMany(t, src, tr.dst, ops)
	for i, want := range []func(error) bool{
		func(err error) bool { return errors.Is(err, ErrBadData) },
		func(err error) bool { return isKind(err, wire.KindChanged) },
		func(err error) bool { return errors.Is(err, ErrBadData) },
		func(err error) bool { return err == nil },
	} {
		if !want(out[i].Err) {
			t.Errorf("%s: %v", names[i], out[i].Err)
		}
	}
	if _, err := tr.dst.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := out[3].Staged.Err(); err != nil {
		t.Fatal(err)
	}
	sameFile(t, tr.dstDir, ops[3].Want, compressible(10<<10+3))
	for _, name := range names[:3] {
		if _, err := os.Lstat(filepath.Join(tr.dstDir, name)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s: a refused file landed: %v", name, err)
		}
	}
	noTemp(t, tr.dstDir)
}

// A frame that holds a chunk, sent as a piece of 1000 bytes, costs the
// target about what was claimed, not what the frame holds, whether its
// header tells the truth or lies to match the claim.
func TestDecodePieceMemory(t *testing.T) {
	frame := zstdFrame(t, compressible(wire.ChunkSize))
	if _, err := decodePiece(wire.CodecZstd, frame, wire.ChunkSize, nil); err != nil {
		t.Fatal(err) // also warms the decoder's pools
	}
	for name, data := range map[string][]byte{"honest header": frame, "lying header": withContentSize(t, frame, 1000)} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := decodePiece(wire.CodecZstd, data, 1000, nil)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrBadData) {
			t.Errorf("%s: decoded: %v", name, err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 256<<10 {
			t.Errorf("%s: decoding a frame claimed as 1000 bytes allocated %d bytes", name, n)
		}
	}
}

// A file that turns compressible after an incompressible start is
// compressed again: the chunks a target probes go compressed, although
// the chunks before them came back raw.
func TestFetchCompressesAgain(t *testing.T) {
	tr := newTrees(t)
	// More random chunks than the window holds: every chunk of the second
	// half is asked for after the first random ones came back raw.
	data := append(randomBytes(2*probeEvery*wire.ChunkSize, 4), compressible((2*probeEvery+1)*wire.ChunkSize)...)
	want := put(t, tr.srcDir, "mixed", data, 0o644, mtime)
	src := &fakeSource{t: tr.src}
	if _, _, err := fetch(t, src, tr.dst, fetchOp(want, nil)); err != nil {
		t.Fatal(err)
	}
	sameFile(t, tr.dstDir, want, data)
	compressed := 0
	for _, rep := range src.replies {
		if rep.Codec != wire.CodecNone {
			compressed++
		}
	}
	if compressed < 3 {
		t.Errorf("%d chunks of the compressible half sent compressed, want at least the 3 probed", compressed)
	}
}
