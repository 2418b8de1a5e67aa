//go:build linux

package e2e

import (
	"fmt"
	"github.com/peerlink/peerlink/testkit/ports"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scrape GETs a metrics page; token, if set, goes as the Bearer token.
func scrape(t *testing.T, url, token, ca string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Transport: trusting(t, ca)}).Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// metricValue is the value of the sample of name whose labels include
// every one of labels ("k=v"), summed over the samples that match; ok is
// false when none does.
func metricValue(page, name string, labels ...string) (float64, bool) {
	var sum float64
	found := false
	for _, line := range strings.Split(page, "\n") {
		if strings.HasPrefix(line, "#") || !strings.HasPrefix(line, name) {
			continue
		}
		rest := line[len(name):]
		set := ""
		if strings.HasPrefix(rest, "{") {
			end := strings.Index(rest, "}")
			set, rest = rest[1:end], rest[end+1:]
		} else if !strings.HasPrefix(rest, " ") {
			continue // a longer name
		}
		all := true
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			all = all && strings.Contains(","+set+",", ","+k+"=\""+v+"\",")
		}
		if !all {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err == nil {
			sum, found = sum+v, true
		}
	}
	return sum, found
}

// The hub's /metrics (with the token, or unauthenticated on
// --metrics-listen) and the agents' count what a session does: a lock
// raises the lock count and its latency histogram, a transfer the byte
// counters, raw and on the wire, and a delta moves far fewer bytes on the
// wire than raw.
func TestMetrics(t *testing.T) {
	t.Parallel()
	hubMetrics := ports.Free(t)
	c := newCluster(t, "--metrics-listen", fmt.Sprintf("127.0.0.1:%d", hubMetrics))
	agentMetrics := map[string]int{}
	for _, h := range hostsAB {
		agentMetrics[h] = ports.Free(t)
		c.start("agent-"+h, "agent", "--name", h, "--broker", c.brokerWS, "--token-file", c.tokenFile(),
			"--data", filepath.Join(c.dir, "agent-"+h), "--metrics-listen", fmt.Sprintf("127.0.0.1:%d", agentMetrics[h]))
		c.waitAgent(h, true, nil)
	}
	const big = "models/site.dwg"
	content := make([]byte, 3<<20)
	r := rand.New(rand.NewPCG(7, 7))
	for i := range content {
		content[i] = byte(r.Uint32())
	}
	c.createSession("m", hostsAB)
	startClean(t, c, "m")

	if code, _ := scrape(t, c.hubURL+"/metrics", "", c.ca); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d, want 401", code)
	}
	if code, _ := scrape(t, c.hubURL+"/metrics", "wrong", c.ca); code != http.StatusUnauthorized {
		t.Errorf("/metrics with a wrong token: %d, want 401", code)
	}
	hub := func() string {
		code, page := scrape(t, c.hubURL+"/metrics", c.apiToken, c.ca)
		if code != http.StatusOK {
			t.Fatalf("/metrics with the token: %d %s", code, page)
		}
		return page
	}
	page := hub()
	if v, _ := metricValue(page, "peerlink_sessions", "phase=running"); v != 1 {
		t.Errorf("peerlink_sessions{phase=running} %v, want 1", v)
	}
	if v, _ := metricValue(page, "peerlink_session_hosts", "session=m", "connected=true"); v != 2 {
		t.Errorf("peerlink_session_hosts{connected=true} %v, want 2", v)
	}
	for _, h := range append([]string{"hub"}, hostsAB...) {
		if _, ok := metricValue(page, "peerlink_broker_queue_frames", "peer="+h); !ok {
			t.Errorf("no broker queue depth for %s", h)
		}
	}
	if code, open := scrape(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", hubMetrics), "", c.ca); code != http.StatusOK || !strings.Contains(open, "peerlink_sessions") {
		t.Errorf("--metrics-listen without a token: %d", code)
	}

	// A lock: held, and its latency observed.
	p := filepath.Join(c.root("site-a"), "lock.txt")
	writeFile(t, c.root("site-a"), "lock.txt", "v1\n", liveT0)
	waitFor(t, liveWait, "lock.txt on site-b", func() bool { _, err := os.Stat(filepath.Join(c.root("site-b"), "lock.txt")); return err == nil })
	w, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, liveWait, "the lock in the metrics", func() bool {
		page := hub()
		held, _ := metricValue(page, "peerlink_locks_held", "session=m")
		n, _ := metricValue(page, "peerlink_lock_latency_seconds_count", "session=m")
		return held == 1 && n >= 1
	})
	w.Close()
	waitFor(t, liveWait, "the lock released in the metrics", func() bool {
		held, _ := metricValue(hub(), "peerlink_locks_held", "session=m")
		return held == 0
	})

	// A large file, whole; then a small change to it, by delta.
	writeFile(t, c.root("site-a"), big, string(content), time.Now().Add(-time.Minute))
	bytesTo := func(kind string) float64 {
		v, _ := metricValue(hub(), "peerlink_transfer_bytes_total", "session=m", "host=site-b", "kind="+kind)
		return v
	}
	waitFor(t, liveWait, "the large file counted as received by site-b", func() bool { return bytesTo("raw") >= float64(len(content)) })
	raw1, wire1 := bytesTo("raw"), bytesTo("wire")
	if wire1 < float64(len(content))*0.9 {
		t.Errorf("a random file went whole, yet %v bytes on the wire for %v raw", wire1, raw1)
	}
	content[len(content)/2] ^= 0xff
	writeFile(t, c.root("site-a"), big, string(content), time.Now())
	waitFor(t, liveWait, "the change counted", func() bool { return bytesTo("raw") >= raw1+float64(len(content)) })
	raw2, wire2 := bytesTo("raw"), bytesTo("wire")
	if d := wire2 - wire1; d <= 0 || d > float64(len(content))/10 {
		t.Errorf("a one-byte change of %d bytes moved %v on the wire (raw %v): want a delta, a small fraction", len(content), d, raw2-raw1)
	}
	if v, _ := metricValue(hub(), "peerlink_propagation_latency_seconds_count", "session=m"); v < 2 {
		t.Errorf("peerlink_propagation_latency_seconds_count %v, want the changes observed", v)
	}

	code, agentPage := scrape(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", agentMetrics["site-b"]), "", c.ca)
	if code != http.StatusOK {
		t.Fatalf("site-b's metrics: %d", code)
	}
	if v, _ := metricValue(agentPage, "peerlink_agent_received_bytes_total", "session=m", "kind=raw"); v < raw2 {
		t.Errorf("site-b counts %v raw bytes received, the hub %v", v, raw2)
	}
	if v, _ := metricValue(agentPage, "peerlink_agent_received_bytes_total", "session=m", "kind=wire"); v < wire2 || v > raw2 {
		t.Errorf("site-b counts %v bytes on the wire, the hub %v (raw %v)", v, wire2, raw2)
	}
}
