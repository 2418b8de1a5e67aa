package hub

import (
	"context"
	"slices"
	"time"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/wire"
)

// Locks that outlive their session (issue 17, item 8). An agent journals
// every lock it takes, and keeps it across its own restarts and the hub's
// absence: the writer elsewhere may still be at work (the lock grace
// period). What settles a journaled lock is the hub's word: an Unlock, a
// Detach when the session's run ends, a new attachment (which undoes them
// all, see startup), and, for a host that was away when the session
// stopped or was deleted, the Sessions message it is sent each time it
// connects: the sessions that run with it now. The agent undoes the locks
// of every other session.

// sessionsTimeout bounds the sending of Sessions to a connecting agent.
const sessionsTimeout = 10 * time.Second

// runningWith returns the sessions that run with host as one of their
// hosts, sorted. A run whose end has begun (see run.end) is not among
// them. The caller holds h.mu: the agent's connection is recorded in the
// same critical section, so a run that ends after it finds the agent
// connected and detaches it, and one that ended before is not listed.
func (h *Hub) runningWith(host string) []string {
	out := []string{}
	for name, r := range h.runs {
		if !r.ending && r.isHost(host) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// tellSessions sends a connecting agent the sessions that run with it.
func (h *Hub) tellSessions(ctx context.Context, c *broker.Client, host string, running []string) {
	ctx, cancel := context.WithTimeout(ctx, sessionsTimeout)
	defer cancel()
	if err := c.Send(ctx, host, &wire.Sessions{Running: running}, nil); err != nil {
		h.log.Warn().Err(err).Str("agent", host).Msg("cannot tell the agent which sessions run: locks it journaled for stopped or deleted sessions stay until it connects again")
	}
}

// end marks the run as ending, before it releases its locks and detaches
// its hosts: an agent that connects from now on is not told it runs.
func (r *run) end() {
	r.h.mu.Lock()
	r.ending = true
	r.h.mu.Unlock()
}
