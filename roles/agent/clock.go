package agent

import (
	"context"
	"time"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/wire"
)

// clock answers the hub's Clock with this host's wall clock when the
// request arrived and when the answer leaves: the hub works out the
// offset of this clock against its own (roles/hub/clock.go). It runs in
// the serve loop, as soon as the frame is read, so that no queue of other
// work lengthens the round trip the hub measures.
//
// Config.ClockOffset, for tests only, shifts the times reported here, and
// nothing else: the agent's file modification times stay the kernel's.
func (a *Agent) clock(ctx context.Context, c *broker.Client, in broker.Incoming) {
	received := time.Now().Add(a.cfg.ClockOffset).UnixNano()
	m := &wire.ClockData{Received: received, Sent: time.Now().Add(a.cfg.ClockOffset).UnixNano()}
	if err := c.Reply(ctx, in, m, nil); err != nil {
		a.log.Debug().Err(err).Msg("clock reply")
	}
}
