package natslink

import (
	"time"

	"github.com/peerlink/peerlink/wire"
)

// Fragment markers, the first byte of every payload: a frame larger than
// the servers' max_payload goes as several messages on the same subject,
// which NATS delivers in order.
const (
	fragWhole byte = iota
	fragMore
	fragLast
)

// maxAssembling bounds the bytes of every partial frame a link holds
// together, whoever sent them: each sender holds at most one partial
// frame of at most wire.MaxFrame, and the senders are the cluster's users.
const maxAssembling = 64 << 20

// assembler puts frames sent in fragments back together. It holds at most
// one partial frame per sender: NATS delivers one connection's messages in
// order, so a fragment of another instance of the same sender means the
// instance that began the partial frame is gone (it died mid-frame) and its
// frame will never end. A partial frame that outgrows wire.MaxFrame or
// maxAssembling is dropped, with its remaining fragments, and so is one
// whose sender has been silent for longer than stale. Not safe for
// concurrent use: the inbox subscription's callback owns it.
type assembler struct {
	max   int           // maxAssembling; tests lower it
	stale time.Duration // a partial frame this long without a fragment is dropped
	held  int           // bytes of all partial frames
	parts map[string]*partial
}

// partial is one sender's frame in the making.
type partial struct {
	inst string
	buf  []byte
	last time.Time // of its latest fragment
	// skip: the frame outgrew a bound and was dropped; its remaining
	// fragments are dropped too, up to its last.
	skip bool
}

func newAssembler(stale time.Duration) *assembler {
	return &assembler{max: maxAssembling, stale: stale, parts: map[string]*partial{}}
}

// add takes one message's payload, of marker mark, from sender from's
// instance inst at now. It returns the frame the payload completes, if any,
// and, if it dropped anything, why (for a warning).
func (a *assembler) add(from, inst string, mark byte, part []byte, now time.Time) (frame []byte, dropped string) {
	p := a.parts[from]
	if p != nil && p.inst != inst {
		a.forget(from)
		dropped, p = "a frame in fragments of an earlier connection of the sender, which ended before the frame did", nil
	}
	switch mark {
	case fragWhole:
		if p != nil {
			a.forget(from)
			dropped = "a frame in fragments that a whole frame interrupted"
		}
		return part, dropped
	case fragMore:
		if p == nil {
			a.sweep(now)
			p = &partial{inst: inst}
			a.parts[from] = p
		}
		p.last = now
		switch {
		case p.skip:
		case len(p.buf)+len(part) > wire.MaxFrame:
			a.drop(p)
			dropped = "a frame in fragments larger than a frame can be"
		case a.held+len(part) > a.max:
			a.drop(p)
			dropped = "a frame in fragments while partial frames already held their bound"
		default:
			p.buf = append(p.buf, part...)
			a.held += len(part)
		}
		return nil, dropped
	case fragLast:
		if p == nil {
			return nil, "the last fragment of a frame whose start never came"
		}
		a.forget(from)
		if p.skip {
			return nil, dropped
		}
		if len(p.buf)+len(part) > wire.MaxFrame {
			return nil, "a frame in fragments larger than a frame can be"
		}
		return append(p.buf, part...), dropped
	}
	return nil, "a message of an unknown format"
}

// drop lets go of p's bytes and skips the rest of its frame.
func (a *assembler) drop(p *partial) {
	a.held -= len(p.buf)
	p.buf, p.skip = nil, true
}

// forget drops sender from's partial frame.
func (a *assembler) forget(from string) {
	if p := a.parts[from]; p != nil {
		a.held -= len(p.buf)
		delete(a.parts, from)
	}
}

// sweep drops the partial frames of senders silent for longer than stale:
// gone for good, or to come back as a new instance.
func (a *assembler) sweep(now time.Time) {
	for from, p := range a.parts {
		if now.Sub(p.last) > a.stale {
			a.forget(from)
		}
	}
}

// holding reports how many partial frames a holds and their bytes.
func (a *assembler) holding() (frames, bytes int) { return len(a.parts), a.held }
