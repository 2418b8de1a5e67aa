package xfer

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/wire"
)

// bufPool holds chunk-sized buffers: the source reads into one, the encoder
// writes into another, both returned once the frame is sent. MaxData holds
// a chunk's encoding in the worst case, so the encoder never grows one.
var bufPool = sync.Pool{New: func() any { b := make([]byte, wire.MaxData); return &b }}

// Chunk is a read answered by the source: the reply and the bytes to send
// beside it. Release returns its buffer once the bytes have been sent.
type Chunk struct {
	Reply wire.ReadData
	Data  []byte
	buf   *[]byte
}

// Release returns the chunk's buffer to the pool.
func (c *Chunk) Release() {
	if c.buf != nil {
		bufPool.Put(c.buf)
		c.buf = nil
	}
}

// Serve answers one Read from t. The file must still have the size and
// modification time the target expects, before and after the read, so a
// target never assembles pieces of two versions: a changed file is a
// KindChanged error and the target starts over or reports it.
func Serve(t *tree.Tree, host string, r *wire.Read) (*Chunk, error) {
	fail := func(err error) (*Chunk, error) { return nil, wire.ToError("read", host, r.Path, err) }
	f, err := t.OpenRead(r.Path)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	if err := sameVersion(f, r); err != nil {
		return fail(err)
	}
	n := int64(r.Length)
	if rest := r.Size - r.Offset; rest < n {
		n = max(rest, 0)
	}
	raw := bufPool.Get().(*[]byte)
	got, err := f.ReadAt((*raw)[:n], r.Offset)
	if err == nil || err == io.EOF {
		err = nil
		if int64(got) != n {
			err = &wire.Error{Kind: wire.KindChanged, Msg: fmt.Sprintf("read %d bytes at offset %d, expected %d", got, r.Offset, n)}
		} else {
			err = sameVersion(f, r)
		}
	}
	if err != nil {
		bufPool.Put(raw)
		return fail(err)
	}
	c := &Chunk{Reply: wire.ReadData{N: got, EOF: r.Offset+n >= r.Size}, buf: raw, Data: (*raw)[:got]}
	if !r.Raw && got > 0 {
		out := bufPool.Get().(*[]byte)
		if codec, enc := encodePiece((*out)[:0], c.Data); codec != wire.CodecNone {
			bufPool.Put(raw)
			c.buf, c.Data, c.Reply.Codec = out, enc, codec
		} else {
			bufPool.Put(out)
		}
	}
	return c, nil
}

// sameVersion checks that f is still the version the target asked for.
func sameVersion(f *os.File, r *wire.Read) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() != r.Size || fi.ModTime().UnixNano() != r.Mtime {
		return &wire.Error{Kind: wire.KindChanged, Msg: fmt.Sprintf("file changed since it was scanned (now %d bytes, modified %s)", fi.Size(), fi.ModTime().Format(time.RFC3339Nano))}
	}
	return nil
}
