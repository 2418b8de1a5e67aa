package wanlink

import (
	"time"

	"github.com/Shopify/toxiproxy/v2/toxics"
)

// delayType is the toxic type name of delayToxic in Toxiproxy's registry.
const delayType = "peerlink_wanlink_delay"

func init() { toxics.Register(delayType, new(delayToxic)) }

// delayToxic delays every chunk by Delay from the moment the link read it,
// as Toxiproxy's own latency toxic does, but on time. That one waits on a
// Go timer, and Go's timers, while the process is otherwise idle, sleep in
// the netpoller's whole milliseconds: a chunk due in 19.6 ms came out
// 0 to 1 ms late (0.46 ms on average, measured through a link of 40 ms),
// so every hop of a live message cost more than the shape says. Here a
// timer takes the wait to within a little of the due time and the kernel
// (nanosleep, sleep_linux.go) times the rest to within microseconds.
type delayToxic struct {
	Delay time.Duration `json:"delay"` // nanoseconds
}

// GetBufferSize is the chunks the toxic may hold while they wait, as
// Toxiproxy's latency toxic: the delay must not slow the link down.
func (t *delayToxic) GetBufferSize() int { return 1024 }

func (t *delayToxic) Pipe(stub *toxics.ToxicStub) {
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			due := c.Timestamp.Add(t.Delay)
			if !waitUntil(due, stub.Interrupt) {
				stub.Output <- c // never drop data on the floor
				return
			}
			c.Timestamp = due
			stub.Output <- c
		}
	}
}

// coarse is how far before the due time the Go timer's part of a wait
// ends: more than a timer's lateness, so the precise sleep always has the
// last word.
const coarse = 2 * time.Millisecond

// waitUntil waits until due, or until interrupt, and says whether due came.
// An interrupt during the last coarse is seen once due came.
func waitUntil(due time.Time, interrupt <-chan struct{}) bool {
	if d := time.Until(due) - coarse; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-interrupt:
			t.Stop()
			return false
		}
	}
	sleepPrecisely(time.Until(due))
	return true
}
