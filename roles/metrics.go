package roles

import (
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
)

// MetricsFlag is --metrics-listen: where a role serves GET /metrics
// without authentication.
func MetricsFlag() cli.Flag {
	return &cli.StringFlag{Name: "metrics-listen", EnvVars: []string{"PEERLINK_METRICS_LISTEN"},
		Usage: "serve Prometheus metrics at http://ADDR/metrics without authentication, e.g. 127.0.0.1:9181 (keep it off untrusted networks)"}
}

// MetricsListener opens --metrics-listen's address, warning when it is
// reachable from other hosts: what it serves is unauthenticated.
func MetricsListener(addr string, log zerolog.Logger) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-listen %s: %w", addr, err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		log.Warn().Str("listen", ln.Addr().String()).Msg("metrics are served without authentication on an address other hosts can reach: keep it behind a firewall, or use the API port's /metrics with the token")
	}
	log.Info().Str("url", "http://"+Dialable(ln.Addr())+"/metrics").Msg("metrics listening")
	return ln, nil
}

// ServeMetrics serves h at /metrics on ln until ctx ends.
func ServeMetrics(ctx context.Context, ln net.Listener, h http.Handler) error {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	return ServeHTTP(ctx, ln, mux)
}
