package metrics

import "github.com/prometheus/client_golang/prometheus"

// QueueDepth is one peer's queue in the broker, as the broker reports it.
type QueueDepth struct {
	Peer          string
	Frames, Bytes int
}

var (
	queueFramesDesc = prometheus.NewDesc("peerlink_broker_queue_frames", "Frames waiting in the broker for a peer.", []string{"peer"}, nil)
	queueBytesDesc  = prometheus.NewDesc("peerlink_broker_queue_bytes", "Bytes waiting in the broker for a peer.", []string{"peer"}, nil)
)

// brokerCollector reads the broker's queues at scrape time.
type brokerCollector struct{ queues func() []QueueDepth }

func (c brokerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueFramesDesc
	ch <- queueBytesDesc
}

func (c brokerCollector) Collect(ch chan<- prometheus.Metric) {
	for _, q := range c.queues() {
		ch <- prometheus.MustNewConstMetric(queueFramesDesc, prometheus.GaugeValue, float64(q.Frames), q.Peer)
		ch <- prometheus.MustNewConstMetric(queueBytesDesc, prometheus.GaugeValue, float64(q.Bytes), q.Peer)
	}
}

// WatchBroker adds the queue depths of the broker the hub embeds.
func (h *Hub) WatchBroker(queues func() []QueueDepth) {
	if h != nil {
		h.reg.MustRegister(brokerCollector{queues: queues})
	}
}
