package hub

import (
	"time"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/web/api"
)

// eventClock is the event log's record of a host's clock going off the
// hub's, or back.
func eventClock(host, msg string) store.Event {
	return store.Event{Kind: "clock", Host: host, Msg: msg}
}

// best returns host's best sample, if any.
func (c *clocks) best(host string) (clockSample, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if hc := c.hosts[host]; hc != nil {
		return hc.best()
	}
	return clockSample{}, false
}

// clockStatus fills in each host's clock in a session's status, and warns
// about every host whose clock is more than api.ClockWarn off the hub's.
// It is worked out at each look, from the latest measurements, so a
// clock set right clears its warning without a restart of the session.
func (h *Hub) clockStatus(st *api.SessionStatus) {
	for i := range st.Hosts {
		hs := &st.Hosts[i]
		hs.Clock = h.clocks.view(hs.Host)
		if best, ok := h.clocks.best(hs.Host); ok && clockOff(best.offset) {
			st.Warnings = append(st.Warnings, hs.Host+": "+clockWarning(best))
		}
	}
}

// clockInput gives the conflict engine the session's hosts' clocks, for
// its clock skew rule. A connected host not measured yet (it has only
// just connected) is measured now; one that cannot be is left out, and
// its times are trusted as they were before clocks were measured. A host
// whose clock is off gets an event, so the log says why conflicts of
// this start may be quarantined as clock-skew.
func (r *run) clockInput() map[string]conflict.Clock {
	out := map[string]conflict.Clock{}
	for _, host := range r.hostNames() {
		best, ok := r.h.clocks.best(host)
		if !ok {
			if c := r.h.client(); c != nil && r.h.connected(host) && r.h.probeClock(r.ctx(), c, host) {
				best, ok = r.h.clocks.best(host)
			}
		}
		if !ok {
			r.log.Warn().Str("host", host).Msg("clock not measured: its modification times are compared as they are")
			continue
		}
		out[host] = conflict.Clock{Offset: best.offset, Error: best.delay / 2}
		if clockOff(best.offset) {
			r.events.add(eventClock(host, clockWarning(best)))
		}
	}
	return out
}

// apiClock rounds a sample for the API: nanoseconds mean nothing against
// a measurement's error of tens of microseconds at best.
func apiClock(s clockSample) *api.Clock {
	return &api.Clock{Offset: api.Duration(s.offset.Round(time.Microsecond)), Error: api.Duration((s.delay / 2).Round(time.Microsecond)), Measured: s.at}
}
