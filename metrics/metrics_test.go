package metrics

import (
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/web/api"
)

type fakeState struct{ sessions []api.Session }

func (f fakeState) Status() api.Status {
	return api.Status{Agents: []api.Agent{{Name: "a", Connected: true}, {Name: "b"}}}
}
func (f fakeState) Sessions() ([]api.Session, error) { return f.sessions, nil }

func oneSession() fakeState {
	off := api.Clock{Offset: api.Duration(1500 * time.Millisecond)}
	return fakeState{sessions: []api.Session{{SessionConfig: api.SessionConfig{Name: "s"}, Status: api.SessionStatus{
		Phase: api.PhaseRunning, Locks: 2, Quarantined: 3,
		Files: api.Counter{Done: 4, Total: 10}, Bytes: api.Counter{Done: 100, Total: 300},
		Hosts: []api.HostStatus{{Host: "a", Connected: true, Clock: &off}, {Host: "b"}}}}}}
}

func page(t *testing.T, h *Hub) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// The collector reports the hub's state as `session status` has it.
func TestHubCollectorReadsTheSessions(t *testing.T) {
	p := page(t, NewHub(oneSession()))
	for _, want := range []string{
		`peerlink_sessions{phase="running"} 1`,
		`peerlink_sessions{phase="stopped"} 0`,
		`peerlink_session_hosts{connected="true",session="s"} 1`,
		`peerlink_session_hosts{connected="false",session="s"} 1`,
		`peerlink_locks_held{session="s"} 2`,
		`peerlink_conflicts_open{session="s"} 3`,
		`peerlink_files_pending{session="s"} 6`,
		`peerlink_bytes_pending{session="s"} 200`,
		`peerlink_clock_offset_seconds{host="a"} 1.5`,
		`peerlink_agents{connected="true"} 1`,
		`peerlink_hub_state_up 1`,
	} {
		if !strings.Contains(p, want+"\n") {
			t.Errorf("no %s in\n%s", want, p)
		}
	}
}

// Every metric the Grafana dashboard in docs/ queries is one the hub
// exports (the peerlink_nats_ ones when its broker is a NATS cluster).
func TestDashboardNamesExist(t *testing.T) {
	h := NewHub(oneSession())
	h.WatchNATS(func() NATS { return NATS{Connected: true, FramesIn: 1} })
	h.Locked("s", time.Millisecond)
	h.Propagated("s", time.Millisecond)
	h.Received("s", "a", 10, 5)
	h.Scanned("s", "a", time.Second)
	p := page(t, h)
	b, err := os.ReadFile("../docs/grafana-peerlink.json")
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`peerlink_[a-z_]+`).FindAllString(string(b), -1)
	if len(names) < 10 {
		t.Fatalf("the dashboard queries %d metrics", len(names))
	}
	for _, n := range names {
		if !strings.Contains(p, "\n"+n+"{") && !strings.Contains(p, "\n"+n+" ") {
			t.Errorf("the dashboard queries %s, which the hub does not export", n)
		}
	}
}

// A nil *Hub or *Agent counts nothing and does not panic: code paths
// without metrics need no check.
func TestNilCountsNothing(t *testing.T) {
	var h *Hub
	h.Locked("s", time.Second)
	h.Propagated("s", time.Second)
	h.Received("s", "a", 1, 1)
	h.Scanned("s", "a", time.Second)
	var a *Agent
	a.Received("s", 1, 1)
	h.WatchNATS(func() NATS { return NATS{} })
	a.WatchNATS(func() NATS { return NATS{} })
}
