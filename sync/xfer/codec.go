package xfer

import (
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
	"github.com/peerlink/peerlink/wire"
)

// What crosses the link is compressed with zstd at its fastest level, a
// piece (a chunk of a large file, or a small file of a batch) at a time,
// and sent compressed only where that saves at least an eighth. The choice
// and its measurements are in the README ("How files move") and in
// codec_bench_test.go.

// minCompress is the smallest piece worth compressing: below it the
// frame's own header eats what little there is to save.
const minCompress = 256

// probeEvery: once a chunk of a file came back raw, a target asks for the
// rest raw but for every probeEvery-th chunk, which tells whether the file
// became compressible again. On incompressible data zstd gives up at about
// 3 GB/s of one core, so the probes cost the source about 0.05 ms per MiB.
const probeEvery = 8

// ErrBadData is wrapped by every error of decoding a piece: data that is
// corrupt, does not decode to the length it claims, or claims more than
// was asked for.
var ErrBadData = errors.New("bad encoded data")

// zstdCodec returns the encoder and decoder every transfer of the process
// shares: both are safe for concurrent use and keep pools of their own
// state, so one of each costs less than one per transfer.
var zstdCodec = sync.OnceValues(func() (*zstd.Encoder, *zstd.Decoder) {
	// The whole file's SHA-256 already checks what arrives: a frame
	// checksum would cost CPU and four bytes for nothing.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderCRC(false))
	if err != nil {
		panic(fmt.Sprintf("zstd encoder: %v", err)) // only fails on bad options
	}
	// A rogue peer must not make a target allocate more than a chunk:
	// the decoder refuses windows and outputs beyond that, and decodes
	// into no more than the capacity it is given.
	dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(wire.ChunkSize), zstd.WithDecodeAllCapLimit(true))
	if err != nil {
		panic(fmt.Sprintf("zstd decoder: %v", err))
	}
	return enc, dec
})

// encodePiece encodes src for the wire, appending to dst. It returns
// wire.CodecNone and src itself when encoding does not save an eighth.
func encodePiece(dst, src []byte) (wire.Codec, []byte) {
	if len(src) < minCompress {
		return wire.CodecNone, src
	}
	enc, _ := zstdCodec()
	out := enc.EncodeAll(src, dst)
	if len(out)-len(dst) >= len(src)-len(src)/8 {
		return wire.CodecNone, src
	}
	return wire.CodecZstd, out
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
		_, dec := zstdCodec()
		out, err := dec.DecodeAll(data, dst[:0:n])
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
