// Package metrics owns peerlink's Prometheus metrics: their names, what
// the hub and the agents count as work happens, and the collector that
// reads the hub's sessions at scrape time. Each process has its own
// registry (no global state), served by Handler.
package metrics
