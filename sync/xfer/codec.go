package xfer

import (
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/peerlink/peerlink/wire"
)

// What crosses the link is compressed with zstd a piece at a time (a chunk
// of a large file, a batch of small files that one ReadMany fetches, or a
// small file that travels with its change), and sent compressed only where
// that saves at least an eighth. Whether a piece is worth it is guessed
// cheaply first, from a few samples compressed at zstd's fastest level, so
// incompressible data costs next to no CPU; a piece that is compressible
// is then compressed at the "better" level (about zstd's 7), whose extra
// ratio pays on a WAN link many times over. The choice and its
// measurements are in the README ("How files move") and in
// codec_bench_test.go.

// minCompress is the smallest piece worth compressing: below it the
// frame's own header eats what little there is to save.
const minCompress = 256

// probeEvery: once a chunk of a file came back raw, a target asks for the
// rest raw but for every probeEvery-th chunk, which tells whether the file
// became compressible again. On incompressible data zstd gives up at about
// 3 GB/s of one core, so the probes cost the source about 0.05 ms per MiB.
const probeEvery = 8

// A piece larger than probeOver is sampled before it is compressed:
// probeSamples slices of probeLen bytes spread over it, compressed at the
// fastest level, must save an eighth between them. 32 KiB of a MiB costs
// about 0.01 ms on random data and 0.15 ms on text.
const (
	probeOver    = 64 << 10
	probeSamples = 4
	probeLen     = 8 << 10
)

// ErrBadData is wrapped by every error of decoding a piece: data that is
// corrupt, does not decode to the length it claims, or claims more than
// was asked for.
var ErrBadData = errors.New("bad encoded data")

// codec is the zstd state every transfer of the process shares: encoders
// and decoder are safe for concurrent use and keep pools of their own
// state, so one of each costs less than one per transfer.
type codec struct {
	probe, enc *zstd.Encoder
	dec        *zstd.Decoder
}

var zstdCodec = sync.OnceValue(func() codec {
	// The whole file's SHA-256 already checks what arrives: a frame
	// checksum would cost CPU and four bytes for nothing. No piece is
	// larger than a chunk, so neither is a window.
	newEnc := func(l zstd.EncoderLevel) *zstd.Encoder {
		e, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(l), zstd.WithEncoderCRC(false), zstd.WithWindowSize(wire.ChunkSize))
		if err != nil {
			panic(fmt.Sprintf("zstd encoder: %v", err)) // only fails on bad options
		}
		return e
	}
	// A rogue peer must not make a target allocate more than a chunk:
	// the decoder refuses windows and outputs beyond that, and decodes
	// into no more than the capacity it is given.
	dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(wire.ChunkSize), zstd.WithDecodeAllCapLimit(true))
	if err != nil {
		panic(fmt.Sprintf("zstd decoder: %v", err))
	}
	return codec{probe: newEnc(zstd.SpeedFastest), enc: newEnc(zstd.SpeedBetterCompression), dec: dec}
})

// encodePiece encodes src for the wire, appending to dst. It returns
// wire.CodecNone and src itself when encoding does not save an eighth.
func encodePiece(dst, src []byte) (wire.Codec, []byte) {
	if len(src) < minCompress {
		return wire.CodecNone, src
	}
	z := zstdCodec()
	if len(src) > probeOver && !worthCompressing(z.probe, dst, src) {
		return wire.CodecNone, src
	}
	out := z.enc.EncodeAll(src, dst)
	if len(out)-len(dst) >= len(src)-len(src)/8 {
		return wire.CodecNone, src
	}
	return wire.CodecZstd, out
}

// worthCompressing guesses whether src compresses by an eighth from
// probeSamples slices of it, compressed fast into scratch's spare room.
func worthCompressing(fast *zstd.Encoder, scratch, src []byte) bool {
	scratch = scratch[len(scratch):]
	in, out := 0, 0
	step := (len(src) - probeLen) / (probeSamples - 1)
	for i := range probeSamples {
		s := src[i*step : i*step+probeLen]
		in += len(s)
		out += len(fast.EncodeAll(s, scratch[:0]))
	}
	return out < in-in/8
}

// decodePiece decodes data, encoded with c, into exactly n bytes of
// content, using dst's storage when it can hold n. n is what the peer
// claims; the caller has checked it is what was asked for, and it never
// exceeds a chunk, so a hostile peer costs at most a chunk of memory.
func decodePiece(c wire.Codec, data []byte, n int, dst []byte) ([]byte, error) {
	if n < 0 || n > wire.ChunkSize {
		return nil, fmt.Errorf("%w: claims %d bytes, more than a chunk", ErrBadData, n)
	}
	switch c {
	case wire.CodecNone:
		if len(data) != n {
			return nil, fmt.Errorf("%w: %d raw bytes, claims %d", ErrBadData, len(data), n)
		}
		return data, nil
	case wire.CodecZstd:
		// The frame must declare the length claimed before anything is
		// decoded; the decode is then held to it by dst's capacity.
		var h zstd.Header
		if err := h.Decode(data); err != nil || !h.HasFCS || h.FrameContentSize != uint64(n) {
			return nil, fmt.Errorf("%w: zstd frame header (declares %d bytes, claims %d): %v", ErrBadData, h.FrameContentSize, n, err)
		}
		if cap(dst) < n {
			dst = make([]byte, 0, n)
		}
		out, err := zstdCodec().dec.DecodeAll(data, dst[:0:n])
		if err != nil {
			return nil, fmt.Errorf("%w: zstd: %v", ErrBadData, err)
		}
		if len(out) != n {
			return nil, fmt.Errorf("%w: decodes to %d bytes, claims %d", ErrBadData, len(out), n)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: %v", ErrBadData, c.Check())
}
