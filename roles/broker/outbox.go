package broker

import (
	"context"
	"errors"
	"sync"
)

// errBoxClosed is returned by put once the outbox's connection is ending.
var errBoxClosed = errors.New("outbox closed")

// errOverflow is returned by force when even the slack for notices is used
// up: the connection has not drained for a long time.
var errOverflow = errors.New("outbox overflow")

// limits bound one connection's outgoing queue by frame count and by bytes,
// so memory stays flat whatever a slow reader does.
type limits struct {
	frames int
	bytes  int
}

// outFrame is one queued frame, kept as its header and its data so the
// broker can forward a peer's data without copying it into a new buffer.
type outFrame struct {
	hdr  []byte // format byte, header length and JSON header
	data []byte
}

func (f outFrame) size() int { return len(f.hdr) + len(f.data) }

// outbox is the bounded queue between the goroutines that produce frames for
// a connection and its single writer. Producers block while it is full: that
// is the back-pressure that stops a fast sender's reader, so TCP pushes back
// on the sender instead of the broker buffering without bound.
type outbox struct {
	lim limits

	mu     sync.Mutex
	q      []outFrame
	head   int
	bytes  int
	closed bool
	space  chan struct{} // closed and replaced whenever a frame leaves or the box closes
	ready  chan struct{} // capacity 1: poked when a frame arrives or the box closes

	peakFrames, peakBytes int // high-water marks, for tests and debugging
}

func newOutbox(lim limits) *outbox {
	return &outbox{lim: lim, space: make(chan struct{}), ready: make(chan struct{}, 1)}
}

// fits reports whether f can join the queue now. A frame larger than the
// byte limit is still accepted into an empty queue, or it could never go.
func (o *outbox) fits(f outFrame) bool {
	n := len(o.q) - o.head
	return n == 0 || n < o.lim.frames && o.bytes+f.size() <= o.lim.bytes
}

// put queues f, waiting while the queue is full until ctx ends or the box
// closes.
func (o *outbox) put(ctx context.Context, f outFrame) error {
	for {
		o.mu.Lock()
		if o.closed {
			o.mu.Unlock()
			return errBoxClosed
		}
		if o.fits(f) {
			o.pushLocked(f)
			o.mu.Unlock()
			return nil
		}
		space := o.space
		o.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// force queues a small notice without waiting, so it can be sent while a
// lock is held. It may exceed the limits, but only up to twice them: a
// connection that lets that much pile up is not draining and must go.
func (o *outbox) force(f outFrame) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return errBoxClosed
	}
	if len(o.q)-o.head >= 2*o.lim.frames || o.bytes+f.size() > 2*o.lim.bytes {
		return errOverflow
	}
	o.pushLocked(f)
	return nil
}

func (o *outbox) pushLocked(f outFrame) {
	o.q = append(o.q, f)
	o.bytes += f.size()
	if n := len(o.q) - o.head; n > o.peakFrames {
		o.peakFrames = n
	}
	if o.bytes > o.peakBytes {
		o.peakBytes = o.bytes
	}
	select {
	case o.ready <- struct{}{}:
	default:
	}
}

// pop takes the oldest frame, if any. Only the writer calls it.
func (o *outbox) pop() (outFrame, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed || o.head == len(o.q) {
		return outFrame{}, false
	}
	f := o.q[o.head]
	o.q[o.head] = outFrame{} // let the data be collected once written
	o.head++
	if o.head == len(o.q) {
		o.q, o.head = o.q[:0], 0
	} else if o.head >= 64 && o.head*2 >= len(o.q) {
		// Slide the live frames down so the backing array stays bounded
		// by the frame limit rather than by the frames ever queued.
		n := copy(o.q, o.q[o.head:])
		clear(o.q[n:])
		o.q, o.head = o.q[:n], 0
	}
	o.bytes -= f.size()
	close(o.space)
	o.space = make(chan struct{})
	if o.head < len(o.q) {
		select {
		case o.ready <- struct{}{}:
		default:
		}
	}
	return f, true
}

// close drops whatever is queued and wakes every waiter; later puts fail.
func (o *outbox) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	o.closed = true
	clear(o.q)
	o.q, o.head, o.bytes = nil, 0, 0
	close(o.space)
	select {
	case o.ready <- struct{}{}:
	default:
	}
}

// stats returns the queued frames and bytes and their high-water marks.
func (o *outbox) stats() (frames, bytes, peakFrames, peakBytes int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.q) - o.head, o.bytes, o.peakFrames, o.peakBytes
}
