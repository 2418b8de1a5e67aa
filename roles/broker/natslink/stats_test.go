package natslink

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/peerlink/peerlink/metrics"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

type noSessions struct{}

func (noSessions) Status() api.Status               { return api.Status{} }
func (noSessions) Sessions() ([]api.Session, error) { return nil, nil }

// samples returns the peerlink_nats_ samples of a metrics page by their
// name and labels.
func samples(t *testing.T, page string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, m := range regexp.MustCompile(`(?m)^(peerlink_nats_[a-z_]+(?:\{[^}]*\})?) (\S+)$`).FindAllStringSubmatch(page, -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatalf("%s: %v", m[0], err)
		}
		out[m[1]] = v
	}
	return out
}

// After the hub sends an agent a request of 300 KiB over a cluster whose
// max_payload is 64 KiB and the agent replies, the hub's and the agent's
// metrics count the frames and bytes each way, say they are connected
// with one peer, nothing pending; an agent that connects again counts a
// reconnection.
func TestStatsAsMetrics(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "max_payload: 65536")
	hubStats, agentStats := &Stats{}, &Stats{}
	hub, _ := f.dialLink(t, wire.HubName, timing{}, hubStats)
	a, _ := f.dialLink(t, "site-a", timing{}, agentStats)
	next(t, hub) // site-a up
	big := make([]byte, 300<<10)
	go func() {
		in := next(t, a)
		_ = a.Reply(context.Background(), in, &wire.OK{}, []byte("done"))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := hub.Request(ctx, "site-a", &wire.OK{}, big); err != nil {
		t.Fatal(err)
	}
	hm := metrics.NewHub(noSessions{})
	hm.WatchNATS(hubStats.Metrics)
	am := metrics.NewAgent()
	am.WatchNATS(agentStats.Metrics)
	page := func(h interface{ Handler() http.Handler }) map[string]float64 {
		rec := httptest.NewRecorder()
		h.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return samples(t, rec.Body.String())
	}
	hp, ap := page(hm), page(am)
	for _, c := range []struct {
		side     string
		got      map[string]float64
		name     string
		min, max float64
	}{
		{"hub", hp, `peerlink_nats_connected`, 1, 1},
		{"hub", hp, `peerlink_nats_peers`, 1, 1},
		{"hub", hp, `peerlink_nats_frames_total{direction="out"}`, 1, 1},
		{"hub", hp, `peerlink_nats_frames_total{direction="in"}`, 1, 1},
		{"hub", hp, `peerlink_nats_bytes_total{direction="out"}`, 300 << 10, 400 << 10},
		{"hub", hp, `peerlink_nats_bytes_total{direction="in"}`, 4, 1 << 10},
		{"hub", hp, `peerlink_nats_pending{unit="bytes"}`, 0, 0},
		{"hub", hp, `peerlink_nats_pending{unit="frames"}`, 0, 0},
		{"hub", hp, `peerlink_nats_assembling{unit="bytes"}`, 0, 0},
		{"hub", hp, `peerlink_nats_reconnects_total`, 0, 0},
		{"hub", hp, `peerlink_nats_dropped_total`, 0, 0},
		{"agent", ap, `peerlink_nats_connected`, 1, 1},
		{"agent", ap, `peerlink_nats_peers`, 1, 1},
		{"agent", ap, `peerlink_nats_bytes_total{direction="in"}`, 300 << 10, 400 << 10},
		{"agent", ap, `peerlink_nats_frames_total{direction="out"}`, 1, 1},
	} {
		v, ok := c.got[c.name]
		if !ok || v < c.min || v > c.max {
			t.Errorf("%s: %s = %v (present %v), want %v to %v", c.side, c.name, v, ok, c.min, c.max)
		}
	}

	a.Close()
	f.dialLink(t, "site-a", timing{}, agentStats)
	ap = page(am)
	if ap[`peerlink_nats_reconnects_total`] != 1 || ap[`peerlink_nats_connected`] != 1 {
		t.Errorf("after the agent connected again: reconnects %v, connected %v, want 1 and 1", ap[`peerlink_nats_reconnects_total`], ap[`peerlink_nats_connected`])
	}
}
