package wire

import "fmt"

// Codec says how the bytes of a ReadData or a ReadPart are encoded on the
// wire. Codecs are only ever appended, never renumbered; a value a peer does
// not know is a protocol error, never guessed at.
type Codec uint8

const (
	// CodecNone: the bytes are the content itself.
	CodecNone Codec = 0
	// CodecZstd: one Zstandard frame (RFC 8878) that declares its content
	// size and decodes to exactly the N bytes of content.
	CodecZstd Codec = 1
)

// Check reports whether c is a codec this version knows.
func (c Codec) Check() error {
	switch c {
	case CodecNone, CodecZstd:
		return nil
	}
	return fmt.Errorf("unknown codec %d", c)
}

func (c Codec) String() string {
	switch c {
	case CodecNone:
		return "none"
	case CodecZstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", c)
}
