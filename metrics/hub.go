package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/peerlink/peerlink/web/api"
)

// State is what the hub's collector reads at each scrape.
type State interface {
	Status() api.Status
	Sessions() ([]api.Session, error)
}

// Hub is the hub's metrics. The zero value is not usable; a nil *Hub
// counts nothing, so code paths without metrics (tests) need no check.
type Hub struct {
	reg         *prometheus.Registry
	lock        *prometheus.HistogramVec
	propagation *prometheus.HistogramVec
	transfers   *prometheus.CounterVec
	bytes       *prometheus.CounterVec
	scan        *prometheus.HistogramVec
	catchUp     *prometheus.CounterVec
}

// Latency buckets, in seconds: from a millisecond (a lock on loopback) to
// a minute (a large file over a slow link).
var latencyBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// NewHub registers the hub's metrics, and a collector reading state at
// each scrape, in a registry of their own.
func NewHub(state State) *Hub {
	h := &Hub{reg: prometheus.NewRegistry()}
	h.lock = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "peerlink_lock_latency_seconds",
		Help: "From a write-open reported to the hub until every target's copy is locked.", Buckets: latencyBuckets}, []string{"session"})
	h.propagation = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "peerlink_propagation_latency_seconds",
		Help: "From a change reported to the hub until every target applied it.", Buckets: latencyBuckets}, []string{"session"})
	h.transfers = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "peerlink_transfers_total",
		Help: "File contents a host received, live or at a session's start."}, []string{"session", "host"})
	h.bytes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "peerlink_transfer_bytes_total",
		Help: "Bytes of file content a host received: kind=raw is the files' size, kind=wire what crossed the link for them (after delta and compression)."},
		[]string{"session", "host", "kind"})
	h.scan = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "peerlink_scan_duration_seconds",
		Help: "A host's scan of its root at a session's start.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 10)}, []string{"session", "host"})
	h.catchUp = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "peerlink_catchup_scanned_entries_total",
		Help: "Entries a returning host's catch-up scan sent to the hub: scan=partial where its change journal named what changed, full where it rescanned its root."},
		[]string{"session", "host", "scan"})
	h.reg.MustRegister(h.lock, h.propagation, h.transfers, h.bytes, h.scan, h.catchUp, &hubCollector{state: state},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return h
}

// Handler serves the registry in Prometheus' text format.
func (h *Hub) Handler() http.Handler {
	return promhttp.HandlerFor(h.reg, promhttp.HandlerOpts{Registry: h.reg})
}

// Locked records how long a lock took to reach every target.
func (h *Hub) Locked(session string, took time.Duration) {
	if h != nil {
		h.lock.WithLabelValues(session).Observe(took.Seconds())
	}
}

// Propagated records how long a change took to reach every target.
func (h *Hub) Propagated(session string, took time.Duration) {
	if h != nil {
		h.propagation.WithLabelValues(session).Observe(took.Seconds())
	}
}

// Received counts a file content host received: raw bytes of content,
// wire bytes that crossed the link for it.
func (h *Hub) Received(session, host string, raw, wire int64) {
	if h != nil {
		h.transfers.WithLabelValues(session, host).Inc()
		h.bytes.WithLabelValues(session, host, "raw").Add(float64(raw))
		h.bytes.WithLabelValues(session, host, "wire").Add(float64(wire))
	}
}

// Scanned records a host's scan at a session's start.
func (h *Hub) Scanned(session, host string, took time.Duration) {
	if h != nil {
		h.scan.WithLabelValues(session, host).Observe(took.Seconds())
	}
}

// CatchUpScanned counts the entries of a catch-up's scan of host.
func (h *Hub) CatchUpScanned(session, host string, partial bool, entries int) {
	if h != nil {
		kind := "full"
		if partial {
			kind = "partial"
		}
		h.catchUp.WithLabelValues(session, host, kind).Add(float64(entries))
	}
}
