package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peerlink/peerlink/web/api"
)

// Descriptions of what hubCollector reads from the hub's state at each
// scrape: the sessions' status as `session status` shows it.
var (
	sessionsDesc = prometheus.NewDesc("peerlink_sessions", "Sessions by phase.", []string{"phase"}, nil)
	hostsDesc    = prometheus.NewDesc("peerlink_session_hosts", "A session's hosts, by whether they are connected.", []string{"session", "connected"}, nil)
	locksDesc    = prometheus.NewDesc("peerlink_locks_held", "Files locked for a writer right now.", []string{"session"}, nil)
	conflictDesc = prometheus.NewDesc("peerlink_conflicts_open", "Files in the File Conflict List.", []string{"session"}, nil)
	filesDesc    = prometheus.NewDesc("peerlink_files_pending", "Files and folders the initial synchronisation has yet to apply.", []string{"session"}, nil)
	bytesDesc    = prometheus.NewDesc("peerlink_bytes_pending", "Bytes the initial synchronisation has yet to move.", []string{"session"}, nil)
	errorsDesc   = prometheus.NewDesc("peerlink_session_errors", "Errors of the session's current run.", []string{"session"}, nil)
	liveDesc     = prometheus.NewDesc("peerlink_live_changes", "Changes propagated while the session ran, since its start (kind=changes, files, bytes).", []string{"session", "kind"}, nil)
	clockDesc    = prometheus.NewDesc("peerlink_clock_offset_seconds", "A host's clock minus the hub's, as last measured.", []string{"host"}, nil)
	agentsDesc   = prometheus.NewDesc("peerlink_agents", "Agents the hub knows, by whether they are connected.", []string{"connected"}, nil)
	upDesc       = prometheus.NewDesc("peerlink_hub_state_up", "1 if the hub's state could be read for this scrape.", nil, nil)
)

// hubCollector turns the hub's state into gauges at scrape time, so that
// nothing is counted twice and nothing on the hub's paths pays for them.
type hubCollector struct{ state State }

func (c *hubCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{sessionsDesc, hostsDesc, locksDesc, conflictDesc, filesDesc, bytesDesc, errorsDesc, liveDesc, clockDesc, agentsDesc, upDesc} {
		ch <- d
	}
}

func (c *hubCollector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	st := c.state.Status()
	connected := map[bool]int{}
	for _, a := range st.Agents {
		connected[a.Connected]++
	}
	gauge(agentsDesc, float64(connected[true]), "true")
	gauge(agentsDesc, float64(connected[false]), "false")
	sessions, err := c.state.Sessions()
	if err != nil {
		gauge(upDesc, 0)
		return
	}
	gauge(upDesc, 1)
	phases := map[api.Phase]int{}
	clocks := map[string]float64{}
	for _, s := range sessions {
		phases[s.Status.Phase]++
		c.session(gauge, s)
		for _, h := range s.Status.Hosts {
			if h.Clock != nil {
				clocks[h.Host] = time.Duration(h.Clock.Offset).Seconds()
			}
		}
	}
	for _, p := range []api.Phase{api.PhaseStopped, api.PhaseAttaching, api.PhaseScanning, api.PhaseMerging, api.PhaseSyncing, api.PhaseRunning, api.PhaseFailed} {
		gauge(sessionsDesc, float64(phases[p]), string(p))
	}
	for host, off := range clocks {
		gauge(clockDesc, off, host)
	}
}

func (c *hubCollector) session(gauge func(*prometheus.Desc, float64, ...string), s api.Session) {
	st := s.Status
	up := map[bool]int{}
	for _, h := range st.Hosts {
		up[h.Connected]++
	}
	gauge(hostsDesc, float64(up[true]), s.Name, "true")
	gauge(hostsDesc, float64(up[false]), s.Name, "false")
	gauge(locksDesc, float64(st.Locks), s.Name)
	gauge(conflictDesc, float64(st.Quarantined), s.Name)
	gauge(filesDesc, float64(max(st.Files.Total-st.Files.Done, 0)), s.Name)
	gauge(bytesDesc, float64(max(st.Bytes.Total-st.Bytes.Done, 0)), s.Name)
	gauge(errorsDesc, float64(st.ErrorCount), s.Name)
	gauge(liveDesc, float64(st.Live.Changes), s.Name, "changes")
	gauge(liveDesc, float64(st.Live.Files), s.Name, "files")
	gauge(liveDesc, float64(st.Live.Bytes), s.Name, "bytes")
}
