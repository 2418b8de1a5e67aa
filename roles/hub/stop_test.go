package hub

import (
	"testing"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/web/api"
)

// A run that ends its start-up just as it is stopped records itself
// running; the stop, once the run is over, has the last word (make chaos,
// seed 3827: the stopped session showed as starting again, was never
// started by anyone, and would have been resumed at the hub's next start).
func TestStopOutlastsARunRecordingItselfRunning(t *testing.T) {
	h := openTestHub(t)
	cfg, err := h.config("s")
	if err != nil {
		t.Fatal(err)
	}
	var r *run
	r = newRun(h, cfg, func() {
		go func() {
			// The start-up's last write, made as the stop cancelled it.
			if err := h.db.PutSessionState("s", store.SessionState{Desired: store.DesiredRunning, Phase: string(api.PhaseRunning)}); err != nil {
				t.Error(err)
			}
			h.mu.Lock()
			delete(h.runs, "s")
			h.mu.Unlock()
			close(r.done)
		}()
	})
	t.Cleanup(r.events.close)
	h.mu.Lock()
	h.runs["s"] = r
	h.mu.Unlock()
	s, err := h.Stop("s", "test")
	if err != nil {
		t.Fatal(err)
	}
	if s.Status.Phase != api.PhaseStopped {
		t.Errorf("after the stop the session is %s (%s), want stopped", s.Status.Phase, s.Status.Reason)
	}
	if st, err := h.db.SessionState("s"); err != nil || st.Desired != store.DesiredStopped {
		t.Errorf("stored state %+v (%v): want desired stopped, or the hub's next start resumes it", st, err)
	}
}
