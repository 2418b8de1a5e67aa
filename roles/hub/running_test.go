package hub

import (
	"slices"
	"testing"
)

// An agent that connects is told the sessions that run with it, not those
// it is no host of, and not a run that has begun to end: its Detach is on
// its way, or the agent undoes the session's locks itself.
func TestRunningWith(t *testing.T) {
	r := graceRun(t, 0)
	h := r.h
	h.runs[r.cfg.Name] = r
	h.mu.Lock()
	b, x := h.runningWith("site-b"), h.runningWith("site-x")
	h.mu.Unlock()
	if !slices.Equal(b, []string{"s"}) || len(x) != 0 || x == nil {
		t.Errorf("running with site-b %q, with site-x %q: want [s] and an empty list", b, x)
	}
	r.end()
	h.mu.Lock()
	b = h.runningWith("site-b")
	h.mu.Unlock()
	if len(b) != 0 {
		t.Errorf("running with site-b once the run ends: %q, want none", b)
	}
}
