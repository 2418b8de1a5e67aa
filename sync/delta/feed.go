package delta

import (
	"context"
	"errors"
	"io"
)

// feedBufs is how many buffers Feed cycles through: one being read into
// and hashed, up to two waiting for or in the Signer.
const feedBufs = 3

// Feed reads r to its end in pieces of bufSize bytes, writing each piece to
// h (the file's content hash) in this goroutine and to s (its span list) in
// a goroutine of its own, so that a large file's signature costs a second
// core beside its hash, not a second pass of the same core's time: the
// Signer hashes every span on top of cutting it, about twice the work of
// the whole-file hash. Each piece reaches s in order. s may be nil; Feed
// then only hashes. It returns the bytes read, and stops early with
// ctx's error or the read's.
func Feed(ctx context.Context, r io.Reader, h io.Writer, s *Signer, bufSize int) (int64, error) {
	if s == nil {
		return feedOne(ctx, r, h, make([]byte, bufSize))
	}
	free := make(chan []byte, feedBufs)
	for range feedBufs {
		free <- make([]byte, bufSize)
	}
	work := make(chan []byte, feedBufs)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range work {
			s.Write(b)
			free <- b[:cap(b)]
		}
	}()
	var n int64
	var err error
	for err == nil {
		if err = ctx.Err(); err != nil {
			break
		}
		buf := <-free
		var k int
		k, err = io.ReadFull(r, buf)
		if errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF
		}
		if k > 0 {
			n += int64(k)
			h.Write(buf[:k])
			work <- buf[:k]
		}
	}
	close(work)
	<-done
	if err == io.EOF {
		err = nil
	}
	return n, err
}

func feedOne(ctx context.Context, r io.Reader, h io.Writer, buf []byte) (int64, error) {
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, err := r.Read(buf)
		h.Write(buf[:k])
		n += int64(k)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
