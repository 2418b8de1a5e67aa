package metrics

import "github.com/prometheus/client_golang/prometheus"

// NATS is what a hub's or an agent's link to a NATS cluster (its broker
// in place of the built-in one) has carried since the process started,
// across its reconnections, and holds now.
type NATS struct {
	Connected                   bool
	Reconnects                  uint64 // connections after the first
	FramesIn, FramesOut         uint64 // whole frames, however many messages each took
	BytesIn, BytesOut           uint64 // of those frames
	PendingFrames, PendingBytes int    // received, waiting for the hub or agent to take them
	Assembling, AssemblingBytes int    // frames in fragments not yet whole
	Peers                       int    // other peers present on the cluster, as this one sees them
	Dropped                     uint64 // malformed or oversized messages dropped, and a revoked agent's
}

var (
	natsConnectedDesc  = prometheus.NewDesc("peerlink_nats_connected", "1 while this process is connected to its NATS cluster.", nil, nil)
	natsReconnectsDesc = prometheus.NewDesc("peerlink_nats_reconnects_total", "Connections to the NATS cluster after the first: each follows a lost connection.", nil, nil)
	natsFramesDesc     = prometheus.NewDesc("peerlink_nats_frames_total", "Frames carried over the NATS cluster, by direction (in, out).", []string{"direction"}, nil)
	natsBytesDesc      = prometheus.NewDesc("peerlink_nats_bytes_total", "Bytes of the frames carried over the NATS cluster, by direction (in, out).", []string{"direction"}, nil)
	natsPendingDesc    = prometheus.NewDesc("peerlink_nats_pending", "Received from the NATS cluster and waiting for this process to take it, by unit (frames, bytes): past 64 MiB the connection ends.", []string{"unit"}, nil)
	natsAssemblingDesc = prometheus.NewDesc("peerlink_nats_assembling", "Frames arriving in fragments and not yet whole, by unit (frames, bytes).", []string{"unit"}, nil)
	natsPeersDesc      = prometheus.NewDesc("peerlink_nats_peers", "Other peers (hub, agents) present on the NATS cluster, as this process sees them.", nil, nil)
	natsDroppedDesc    = prometheus.NewDesc("peerlink_nats_dropped_total", "Messages from the NATS cluster dropped as malformed or too large (a rogue or broken client), or from a revoked agent.", nil, nil)
)

// natsCollector reads a NATS link's figures at scrape time.
type natsCollector struct{ read func() NATS }

func (c natsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{natsConnectedDesc, natsReconnectsDesc, natsFramesDesc, natsBytesDesc, natsPendingDesc, natsAssemblingDesc, natsPeersDesc, natsDroppedDesc} {
		ch <- d
	}
}

func (c natsCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.read()
	metric := func(d *prometheus.Desc, t prometheus.ValueType, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, t, v, labels...)
	}
	connected := 0.0
	if n.Connected {
		connected = 1
	}
	metric(natsConnectedDesc, prometheus.GaugeValue, connected)
	metric(natsReconnectsDesc, prometheus.CounterValue, float64(n.Reconnects))
	metric(natsFramesDesc, prometheus.CounterValue, float64(n.FramesIn), "in")
	metric(natsFramesDesc, prometheus.CounterValue, float64(n.FramesOut), "out")
	metric(natsBytesDesc, prometheus.CounterValue, float64(n.BytesIn), "in")
	metric(natsBytesDesc, prometheus.CounterValue, float64(n.BytesOut), "out")
	metric(natsPendingDesc, prometheus.GaugeValue, float64(n.PendingFrames), "frames")
	metric(natsPendingDesc, prometheus.GaugeValue, float64(n.PendingBytes), "bytes")
	metric(natsAssemblingDesc, prometheus.GaugeValue, float64(n.Assembling), "frames")
	metric(natsAssemblingDesc, prometheus.GaugeValue, float64(n.AssemblingBytes), "bytes")
	metric(natsPeersDesc, prometheus.GaugeValue, float64(n.Peers))
	metric(natsDroppedDesc, prometheus.CounterValue, float64(n.Dropped))
}

// WatchNATS adds the figures of the hub's link to its NATS cluster, read
// at each scrape.
func (h *Hub) WatchNATS(read func() NATS) {
	if h != nil {
		h.reg.MustRegister(natsCollector{read: read})
	}
}

// WatchNATS adds the figures of the agent's link to its NATS cluster,
// read at each scrape.
func (a *Agent) WatchNATS(read func() NATS) {
	if a != nil {
		a.reg.MustRegister(natsCollector{read: read})
	}
}
