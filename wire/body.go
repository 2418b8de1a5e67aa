package wire

import (
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// A message's body is JSON, and the large ones (an Apply or a ScanPart of
// thousands of entries, the Applied results, a ReadMany) repeat their keys
// and the prefixes of their paths from entry to entry: zstd makes them
// three to five times smaller, which over a WAN is time on the link for
// every file of an initial sync. So Marshal compresses a body of at least
// MinBodyCompress bytes when that saves an eighth, and then carries it
// not in the header but as the first Z bytes of the frame's data (see
// Envelope.Z), where the broker forwards it as it is: routing reads only
// the header, which stays plain JSON.

// MinBodyCompress is the smallest body Marshal compresses: below it the
// zstd frame's own overhead and the CPU are not worth the few bytes saved.
// The handshake's messages stay plain whatever their size (plainTypes).
const MinBodyCompress = 1 << 10

// bodyCodec returns the encoder and decoder of message bodies, shared by
// every frame of the process: both are safe for concurrent use and keep
// pools of their own state.
var bodyCodec = sync.OnceValues(func() (*zstd.Encoder, *zstd.Decoder) {
	// Bodies are metadata, a few KB to a few MB: the default level costs
	// little more CPU than the fastest on them and saves a tenth more.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderCRC(false), zstd.WithWindowSize(1<<20))
	if err != nil {
		panic(fmt.Sprintf("zstd encoder: %v", err)) // only fails on bad options
	}
	// A body decodes to at most MaxHeader bytes, as a plain header is
	// bounded: the decoder refuses larger windows and outputs.
	dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(MaxHeader), zstd.WithDecodeAllCapLimit(true))
	if err != nil {
		panic(fmt.Sprintf("zstd decoder: %v", err))
	}
	return enc, dec
})

// plainTypes never travel compressed: the handshake's, which a peer reads
// before it knows the other side's protocol version, and whose bound
// (MaxHello) is on the bytes as a peer of any version encodes them.
var plainTypes = map[Type]bool{TypeHello: true, TypeWelcome: true, TypeRefused: true}

// compressBody returns the body of a t message compressed, or nil when
// that does not pay, would not fit beside data in one frame, or t must
// stay plain.
func compressBody(t Type, body []byte, data []byte) []byte {
	if len(body) < MinBodyCompress || len(body) > MaxHeader || plainTypes[t] {
		return nil // too small to pay, too large for any header, or a handshake
	}
	enc, _ := bodyCodec()
	z := enc.EncodeAll(body, make([]byte, 0, len(body)/2+len(data)))
	if len(z) >= len(body)-len(body)/8 || len(z)+len(data) > MaxData {
		return nil
	}
	return z
}

// inflateBody decodes the compressed body z of a t frame. The zstd frame
// must declare its content size, at most MaxHeader, before anything is
// decoded, and it is decoded into exactly that much: a hostile peer costs
// no more memory than a plain header of the same length would.
func inflateBody(t Type, z []byte) ([]byte, error) {
	var h zstd.Header
	if err := h.Decode(z); err != nil {
		return nil, fmt.Errorf("%w: %s: compressed body: %v", ErrFrame, t, err)
	}
	if !h.HasFCS || h.FrameContentSize == 0 || h.FrameContentSize > MaxHeader {
		return nil, fmt.Errorf("%w: %s: compressed body declares %d bytes (known: %t), want 1 to %d", ErrFrame, t, h.FrameContentSize, h.HasFCS, MaxHeader)
	}
	n := int(h.FrameContentSize)
	_, dec := bodyCodec()
	body, err := dec.DecodeAll(z, make([]byte, 0, n))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: compressed body: %v", ErrFrame, t, err)
	}
	if len(body) != n {
		return nil, fmt.Errorf("%w: %s: compressed body decodes to %d bytes, declares %d", ErrFrame, t, len(body), n)
	}
	return body, nil
}

// Payload is the data that travels beside the message: the frame's data
// without the compressed body at its head.
func (f *Frame) Payload() []byte {
	if f.Z <= 0 || f.Z > len(f.Data) {
		return f.Data
	}
	if p := f.Data[f.Z:]; len(p) > 0 {
		return p
	}
	return nil
}

// open returns f with its body inflated into Body and its data reduced to
// the payload, as a receiver uses it; a frame without a compressed body is
// returned as it is.
func (f Frame) open() (Frame, error) {
	if f.Z == 0 {
		return f, nil
	}
	body, err := inflateBody(f.Type, f.Data[:f.Z])
	if err != nil {
		return f, err
	}
	f.Data, f.Body, f.Z = f.Payload(), body, 0
	return f, nil
}
