package hub

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// The hub measures every connected agent's clock against its own, the way
// NTP does: it notes its clock when it sends a Clock request (t0) and when
// the answer arrives (t3); the answer carries the agent's clock when the
// request arrived (t1) and when it answered (t2). Then
//
//	offset = ((t1 - t0) + (t2 - t3)) / 2    the agent's clock minus the hub's
//	delay  = (t3 - t0) - (t2 - t1)           the round trip on the wire
//
// and the offset is right within delay/2 whatever the two directions'
// share of the delay. Of the last clockWindow samples of a host, the one
// of least delay is kept, as NTP's clock filter does: queues in the broker
// only ever lengthen a round trip and skew its sample.
const (
	clockEvery   = 30 * time.Second // a sample of every connected agent this often
	clockBurst   = 3                // samples taken when an agent connects
	clockWindow  = 8                // samples of a host the best is chosen from
	clockTimeout = 5 * time.Second  // a probe unanswered by then is skipped
)

// clockSample is one measurement of a host's clock.
type clockSample struct {
	at     time.Time // the hub's clock at t0
	offset time.Duration
	delay  time.Duration
}

// sampleClock computes a sample from the four timestamps, in Unix
// nanoseconds, and the hub's own round trip measured on its monotonic
// clock (so a step of the hub's wall clock mid-probe cannot make it
// negative).
func sampleClock(t0 time.Time, t1, t2 int64, roundTrip time.Duration) clockSample {
	w0 := t0.UnixNano()
	w3 := w0 + int64(roundTrip)
	s := clockSample{at: t0, offset: time.Duration(((t1 - w0) + (t2 - w3)) / 2), delay: roundTrip - time.Duration(t2-t1)}
	s.delay = max(0, s.delay)
	return s
}

// hostClock is the recent samples of one host, oldest first.
type hostClock struct {
	samples []clockSample
}

func (c *hostClock) add(s clockSample) {
	if len(c.samples) == clockWindow {
		c.samples = append(c.samples[:0], c.samples[1:]...)
	}
	c.samples = append(c.samples, s)
}

// best is the sample of least delay, the latest among equals.
func (c *hostClock) best() (clockSample, bool) {
	if len(c.samples) == 0 {
		return clockSample{}, false
	}
	b := c.samples[0]
	for _, s := range c.samples[1:] {
		if s.delay <= b.delay {
			b = s
		}
	}
	return b, true
}

// clocks holds what the hub measured of every host's clock. Its own lock:
// it is read under h.mu (Status) and while sessions are viewed.
type clocks struct {
	mu     sync.Mutex
	hosts  map[string]*hostClock
	warned map[string]bool // hosts whose best offset is past api.ClockWarn
	kick   chan string     // agents just connected, to measure at once
}

func newClocks() clocks {
	return clocks{hosts: map[string]*hostClock{}, warned: map[string]bool{}, kick: make(chan string, 64)}
}

// connected forgets what was measured of host before (its clock may have
// been set, or have jumped, while it was away) and asks for a measurement
// now. A full queue drops the request: the next round measures the host.
func (c *clocks) connected(host string) {
	c.mu.Lock()
	delete(c.hosts, host)
	c.mu.Unlock()
	select {
	case c.kick <- host:
	default:
	}
}

// add records a sample and reports whether the host's clock just went
// past api.ClockWarn (over) or back within it (back).
func (c *clocks) add(host string, s clockSample) (best clockSample, over, back bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	hc := c.hosts[host]
	if hc == nil {
		hc = &hostClock{}
		c.hosts[host] = hc
	}
	hc.add(s)
	best, _ = hc.best()
	far := clockOff(best.offset)
	over, back = far && !c.warned[host], !far && c.warned[host]
	c.warned[host] = far
	return best, over, back
}

// clockOff reports whether an offset is worth a warning.
func clockOff(d time.Duration) bool { return d > api.ClockWarn || d < -api.ClockWarn }

// view returns host's clock for the API; nil before the first sample.
func (c *clocks) view(host string) *api.Clock {
	c.mu.Lock()
	defer c.mu.Unlock()
	hc := c.hosts[host]
	if hc == nil {
		return nil
	}
	b, ok := hc.best()
	if !ok {
		return nil
	}
	return apiClock(b)
}

// startClocks measures the agents' clocks over c until the returned
// function is called, which waits for the measuring to end.
func (h *Hub) startClocks(ctx context.Context, c *broker.Client) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.measureClocks(ctx, c)
	}()
	return func() { cancel(); <-done }
}

// measureClocks takes a burst of samples of every agent that connects and
// one of every connected agent each clockEvery. Probes go one at a time:
// they are cheap, and none waits behind another's answer on the wire.
func (h *Hub) measureClocks(ctx context.Context, c *broker.Client) {
	tick := time.NewTicker(clockEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case host := <-h.clocks.kick:
			for range clockBurst {
				h.probeClock(ctx, c, host)
			}
		case <-tick.C:
			for _, host := range h.connectedAgents() {
				h.probeClock(ctx, c, host)
			}
		}
	}
}

func (h *Hub) connectedAgents() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for name, a := range h.agents {
		if a.Connected {
			out = append(out, name)
		}
	}
	return out
}

// probeClock takes one sample of host's clock; an error is only logged,
// the next round tries again.
func (h *Hub) probeClock(ctx context.Context, c *broker.Client, host string) bool {
	ctx, cancel := context.WithTimeout(ctx, clockTimeout)
	defer cancel()
	t0 := time.Now()
	in, err := c.Request(ctx, host, &wire.Clock{}, nil)
	rt := time.Since(t0)
	if err != nil {
		h.log.Debug().Err(err).Str("agent", host).Msg("clock measurement")
		return false
	}
	cd, ok := in.Msg.(*wire.ClockData)
	if !ok {
		h.log.Warn().Str("agent", host).Str("type", string(in.Type)).Msg("clock measurement: unexpected answer")
		return false
	}
	best, over, back := h.clocks.add(host, sampleClock(t0, cd.Received, cd.Sent, rt))
	switch {
	case over:
		msg := clockWarning(best)
		h.log.Warn().Str("agent", host).Dur("offset", best.offset).Dur("error", best.delay/2).Msg("clock off the hub's: " + msg)
		h.clockEvent(host, msg)
	case back:
		h.log.Info().Str("agent", host).Dur("offset", best.offset).Msg("clock back within a second of the hub's")
		h.clockEvent(host, fmt.Sprintf("clock back within %s of the hub's (offset %s)", api.ClockWarn, roundOffset(best.offset)))
	}
	return true
}

// clockEvent records a change of host's clock in the event log of every
// session running with it.
func (h *Hub) clockEvent(host, msg string) {
	h.mu.Lock()
	sessions := h.runningWith(host)
	h.mu.Unlock()
	for _, s := range sessions {
		if err := h.appendEvent(s, eventClock(host, msg)); err != nil {
			h.log.Error().Err(err).Str("session", s).Msg("record clock event")
		}
	}
}

// clockWarning says what an offset past api.ClockWarn means.
func clockWarning(s clockSample) string {
	dir := "ahead of"
	if s.offset < 0 {
		dir = "behind"
	}
	return fmt.Sprintf("clock %s %s the hub's (measured within %s): offline changes closer in time than the hosts' clocks differ are quarantined as clock-skew, not decided by last modification time; set the host's time synchronisation (NTP) right",
		roundOffset(max(s.offset, -s.offset)), dir, roundOffset(s.delay/2))
}

// roundOffset shortens an offset for people: milliseconds, or
// microseconds below one.
func roundOffset(d time.Duration) time.Duration {
	if d >= time.Millisecond || d <= -time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}
