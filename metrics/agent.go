package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Agent is an agent's metrics; a nil *Agent counts nothing.
type Agent struct {
	reg   *prometheus.Registry
	files *prometheus.CounterVec
	bytes *prometheus.CounterVec
	reads *prometheus.CounterVec
}

// NewAgent registers an agent's metrics in a registry of their own.
func NewAgent() *Agent {
	a := &Agent{reg: prometheus.NewRegistry()}
	a.files = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "peerlink_agent_files_received_total",
		Help: "File contents this agent received from other hosts."}, []string{"session"})
	a.bytes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "peerlink_agent_received_bytes_total",
		Help: "Bytes of file content this agent received: kind=raw is the files' size, kind=wire what crossed the link for them (after delta and compression)."},
		[]string{"session", "kind"})
	a.reads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "peerlink_agent_reads_served_total",
		Help: "Reads of file content this agent answered for other hosts: a chunk of a large file, or a batch of small ones. Small files saved here travel with their change instead (inline), and cost none."},
		[]string{"session"})
	a.reg.MustRegister(a.files, a.bytes, a.reads, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return a
}

// Handler serves the registry in Prometheus' text format.
func (a *Agent) Handler() http.Handler {
	return promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{Registry: a.reg})
}

// Received counts a file content received: raw bytes of content, wire
// bytes that crossed the link for it.
func (a *Agent) Received(session string, raw, wire int64) {
	if a != nil {
		a.files.WithLabelValues(session).Inc()
		a.bytes.WithLabelValues(session, "raw").Add(float64(raw))
		a.bytes.WithLabelValues(session, "wire").Add(float64(wire))
	}
}

// Served counts a read this agent answered for another host.
func (a *Agent) Served(session string) {
	if a != nil {
		a.reads.WithLabelValues(session).Inc()
	}
}
