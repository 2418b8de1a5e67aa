package delta

import (
	"encoding/binary"
	"fmt"
)

// BlockSize is the encoded size of a block: a 4-byte length and the hash.
const BlockSize = 4 + HashLen

// AppendBlocks appends blocks, encoded, to b.
func AppendBlocks(b []byte, blocks []Block) []byte {
	for _, x := range blocks {
		b = binary.BigEndian.AppendUint32(b, uint32(x.Len))
		b = append(b, x.Hash[:]...)
	}
	return b
}

// ParseBlocks decodes blocks that AppendBlocks encoded; each must be 1 to
// max bytes long, as a span or a chunk from a peer that cuts alike is.
func ParseBlocks(b []byte, max int) ([]Block, error) {
	if len(b)%BlockSize != 0 {
		return nil, fmt.Errorf("delta: %d bytes of blocks, not a multiple of %d", len(b), BlockSize)
	}
	out := make([]Block, len(b)/BlockSize)
	for i := range out {
		n := binary.BigEndian.Uint32(b)
		if n == 0 || n > uint32(max) {
			return nil, fmt.Errorf("delta: block %d of %d bytes, want 1 to %d", i, n, max)
		}
		out[i].Len = int(n)
		copy(out[i].Hash[:], b[4:BlockSize])
		b = b[BlockSize:]
	}
	return out, nil
}
