package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Frame layout, one WebSocket binary message:
//
//	byte 0       frame format (FrameFormat)
//	bytes 1..4   big-endian length n of the header
//	bytes 5..5+n header: the Envelope as JSON
//	the rest     data: raw bytes that travel beside the header (file chunks)
//
// The broker decodes only the header to route a frame and forwards the bytes
// unchanged, so data is never re-encoded on its way through.
const FrameFormat = 1

const (
	// MaxHeader bounds the JSON header of one frame: a batch of MaxBatch
	// entries with paths of MaxPathLen bytes fits.
	MaxHeader = 24 << 20
	// MaxData bounds the data of one frame: a chunk, with room to spare (a
	// source sends a chunk encoded only when that makes it smaller).
	MaxData = ChunkSize + ChunkSize/6 + 64
	// MaxFrame is the largest frame a peer accepts.
	MaxFrame = 5 + MaxHeader + MaxData
	// ChunkSize is the largest piece of a file one read returns.
	ChunkSize = 1 << 20
	// MaxHello bounds the frames read before the peer on the other side is
	// known: a Hello (names of MaxNameLen, a token, a version) and the
	// answer to it. Nothing larger is read from a peer that has not shown
	// its token, so a flood of strangers costs little memory.
	MaxHello = 8 << 10
)

// ErrFrame is wrapped by every frame decoding error.
var ErrFrame = errors.New("malformed frame")

// Envelope is the routed header of every frame.
type Envelope struct {
	Type  Type   `json:"t"`
	From  string `json:"f,omitempty"`  // set by the broker, never trusted from a peer
	To    string `json:"to,omitempty"` // a peer name; HubName for the hub
	ID    uint64 `json:"id,omitempty"` // set on requests, to match replies
	Reply uint64 `json:"re,omitempty"` // the ID of the request this answers
	// Z > 0: the body is not in the header but the first Z bytes of the
	// data, one zstd frame of its JSON (see MinBodyCompress).
	Z    int             `json:"z,omitempty"`
	Body json.RawMessage `json:"b,omitempty"`
}

// Frame is a decoded frame: its envelope and the data beside it. When Z > 0
// the data starts with the compressed body (Payload is what follows it).
type Frame struct {
	Envelope
	Data []byte
}

// EncodeFrame lays out env and data as one frame.
func EncodeFrame(env Envelope, data []byte) ([]byte, error) {
	hdr, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("encode %s envelope: %w", env.Type, err)
	}
	if len(hdr) > MaxHeader {
		return nil, fmt.Errorf("encode %s: header of %d bytes exceeds %d", env.Type, len(hdr), MaxHeader)
	}
	if len(data) > MaxData {
		return nil, fmt.Errorf("encode %s: data of %d bytes exceeds %d", env.Type, len(data), MaxData)
	}
	b := make([]byte, 5, 5+len(hdr)+len(data))
	b[0] = FrameFormat
	binary.BigEndian.PutUint32(b[1:5], uint32(len(hdr)))
	b = append(b, hdr...)
	return append(b, data...), nil
}

// DecodeFrame decodes the layout and the envelope of a frame, strictly. The
// body stays raw; Decode turns it into a typed message. Data aliases b.
func DecodeFrame(b []byte) (Frame, error) {
	var f Frame
	if len(b) < 5 {
		return f, fmt.Errorf("%w: %d bytes is shorter than the 5-byte prefix", ErrFrame, len(b))
	}
	if b[0] != FrameFormat {
		return f, fmt.Errorf("%w: format %d, want %d", ErrFrame, b[0], FrameFormat)
	}
	n := binary.BigEndian.Uint32(b[1:5])
	if n > MaxHeader || int(n) > len(b)-5 {
		return f, fmt.Errorf("%w: header length %d does not fit in %d bytes", ErrFrame, n, len(b)-5)
	}
	if err := strictJSON(b[5:5+n], &f.Envelope); err != nil {
		return f, fmt.Errorf("%w: envelope: %v", ErrFrame, err)
	}
	if _, ok := registry[f.Type]; !ok {
		return f, fmt.Errorf("%w: unknown message type %q", ErrFrame, f.Type)
	}
	f.Data = b[5+n:]
	if len(f.Data) > MaxData {
		return f, fmt.Errorf("%w: %s data of %d bytes exceeds %d", ErrFrame, f.Type, len(f.Data), MaxData)
	}
	if err := checkZ(f); err != nil {
		return f, err
	}
	if len(f.Data) == 0 {
		f.Data = nil
	}
	return f, nil
}

// checkZ checks that a compressed body, if any, fits in the frame's data
// and is the only body.
func checkZ(f Frame) error {
	switch {
	case f.Z < 0 || f.Z > len(f.Data):
		return fmt.Errorf("%w: %s: compressed body of %d bytes in %d bytes of data", ErrFrame, f.Type, f.Z, len(f.Data))
	case f.Z > 0 && len(f.Body) > 0:
		return fmt.Errorf("%w: %s: both a body and a compressed body", ErrFrame, f.Type)
	}
	return nil
}

// strictJSON decodes exactly one JSON value into v, refusing unknown fields
// and trailing bytes.
func strictJSON(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	// Not d.More(): it reports false for a trailing '}' or ']'. Only
	// whitespace may follow the value, and then the next token is io.EOF.
	if _, err := d.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
