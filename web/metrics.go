package web

import "net/http"

// serveMetrics is GET /metrics: the hub's metrics for a Prometheus that
// presents the API token (bearer_token in its scrape config), or for a
// signed-in browser.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if s.metrics == nil {
		http.NotFound(w, r)
		return
	}
	s.metrics.ServeHTTP(w, r)
}
