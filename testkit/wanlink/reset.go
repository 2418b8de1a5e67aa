package wanlink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/stream"
	"github.com/Shopify/toxiproxy/v2/toxics"
	"github.com/rs/zerolog"
)

// resetType is the toxic type name of resetToxic in Toxiproxy's registry.
const resetType = "peerlink_wanlink_reset"

// resetName is the one reset toxic a link holds while it is armed.
const resetName = "reset_down"

func init() { toxics.Register(resetType, new(resetToxic)) }

// resetToxic lets Bytes bytes pass downstream, counted over every
// connection of the link, then ends the connection that carries the byte
// after them mid-stream, and every connection that carries a byte after
// that, until it is removed. Toxiproxy's own limit_data counts per
// connection, so an agent that reconnects would get a fresh allowance
// each time; one budget for the link makes "reset after N bytes of a
// transfer" mean what it says. Its reset_peer resets at the first byte,
// which leaves no transfer under way to interrupt.
//
// The connection is closed, not sent a TCP RST: Toxiproxy sets the zero
// linger that makes one only for its own reset_peer toxic. Either way the
// client's next read fails with the stream cut short.
type resetToxic struct {
	Bytes int64 `json:"bytes"`

	passed atomic.Int64 // bytes let through
	resets atomic.Int64 // connections ended
}

func (t *resetToxic) Pipe(stub *toxics.ToxicStub) {
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			n := int64(len(c.Data))
			left := t.Bytes - (t.passed.Add(n) - n)
			if left >= n {
				stub.Output <- c
				continue
			}
			if left > 0 {
				t.passed.Add(left - n)
				stub.Output <- &stream.StreamChunk{Data: c.Data[:left], Timestamp: c.Timestamp}
			} else {
				t.passed.Add(-n)
			}
			t.resets.Add(1)
			stub.Close()
			return
		}
	}
}

// ResetAfter arms the link: once n more bytes have gone down it (from the
// upstream to the client), counted over all its connections, the
// connection carrying the next byte is ended mid-stream, as by a reset,
// and so is every connection, open or new, as soon as a byte goes down it,
// until Heal. Bytes going up pass untouched. A link armed again starts a
// new allowance.
func (l *Link) ResetAfter(n int64) error {
	if n < 0 {
		return fmt.Errorf("wanlink reset after %d bytes: negative", n)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.removeReset(); err != nil {
		return err
	}
	js := fmt.Sprintf(`{"name":%q,"type":%q,"stream":"downstream","toxicity":1,"attributes":{"bytes":%d}}`, resetName, resetType, n)
	w, err := l.proxy.Toxics.AddToxicJson(strings.NewReader(js))
	if err != nil {
		return fmt.Errorf("arm the wanlink reset: %w", err)
	}
	l.reset = w.Toxic.(*resetToxic)
	return nil
}

// Heal disarms the link: connections made from now on pass every byte.
// It does nothing on a link that is not armed.
func (l *Link) Heal() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.removeReset()
}

// Resets returns how many connections the link ended since it was last
// armed.
func (l *Link) Resets() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.reset == nil {
		return l.lastResets
	}
	return l.reset.resets.Load()
}

// removeReset takes the reset toxic out, keeping its count; l.mu is held.
func (l *Link) removeReset() error {
	if l.reset == nil {
		return nil
	}
	ctx := zerolog.Nop().WithContext(context.Background())
	if err := l.proxy.Toxics.RemoveToxic(ctx, resetName); err != nil && !errors.Is(err, toxiproxy.ErrToxicNotFound) {
		return fmt.Errorf("heal the wanlink: %w", err)
	}
	l.lastResets = l.reset.resets.Load()
	l.reset = nil
	return nil
}

var _ toxics.Toxic = (*resetToxic)(nil)
