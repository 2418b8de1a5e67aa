package wire

import "fmt"

// Inline content. Over a WAN a target that fetches a small file waits for
// a round trip to its source through the broker, which costs more than the
// file's bytes. So a source reports a small file's change with its content
// (Change.Inline, Closed.Inline, in the message's data), the hub passes it
// on with the op (Op.Inline, in the Apply's data), and the target writes it
// without asking. It is checked like fetched content, against the size and
// hash the op wants; content that does not match is fetched again.

// InlineMax is the largest file whose content travels inline: the size
// below which a file is fetched in batches (xfer.SmallFile).
const InlineMax = 64 << 10

// Inline is a small file's content carried in its message's data: N bytes
// encoded in Len bytes with Codec. A message's inline parts occupy its data
// in the order they appear in it, one after the other.
type Inline struct {
	N     int   `json:"n"`
	Len   int   `json:"len"`
	Codec Codec `json:"c,omitempty"`
}

// check checks in as the content of a file of size bytes.
func (in *Inline) check(size int64) error {
	if int64(in.N) != size || in.N > InlineMax || in.N < 0 {
		return fmt.Errorf("inline content of %d bytes for a file of %d (at most %d inline)", in.N, size, InlineMax)
	}
	if in.Len < 0 || in.Len > MaxData {
		return fmt.Errorf("inline content in %d bytes of data", in.Len)
	}
	if in.Codec == CodecNone && in.Len != in.N {
		return fmt.Errorf("inline content of %d bytes stored raw in %d", in.N, in.Len)
	}
	return in.Codec.Check()
}

// SplitInline returns, for each of parts, its bytes of data (nil for a nil
// part), checking that the parts take up data exactly.
func SplitInline(parts []*Inline, data []byte) ([][]byte, error) {
	out := make([][]byte, len(parts))
	for i, p := range parts {
		if p == nil {
			continue
		}
		if p.Len > len(data) {
			return nil, fmt.Errorf("inline part %d: %d bytes, %d left in the data", i, p.Len, len(data))
		}
		out[i], data = data[:p.Len:p.Len], data[p.Len:]
	}
	if len(data) != 0 {
		return nil, fmt.Errorf("inline parts leave %d bytes of the data unused", len(data))
	}
	return out, nil
}
