//go:build linux

package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/peerlink/peerlink/roles/broker/natslink"
	"github.com/peerlink/peerlink/testkit/natstest"
	"github.com/peerlink/peerlink/testkit/ports"
	"github.com/peerlink/peerlink/wire"
)

// natsNodes are NATS servers run in the test process, clustered with each
// other, admitting the users `peerlink nats-config` wrote.
type natsNodes struct {
	srvs []*natstest.Server
	urls []string
}

// url lists every node, as a hub's --broker-url or an agent's --broker.
func (n *natsNodes) url() string { return strings.Join(n.urls, ",") }

// startNATS runs `peerlink nats-config` for the hub at DIR/hub and the
// three hosts, and starts count NATS nodes clustered together with the
// users it wrote. The nodes stop at the test's end.
func startNATS(t *testing.T, dir string, count int) *natsNodes {
	t.Helper()
	out := filepath.Join(dir, "nats")
	args := []string{"nats-config", "--data", filepath.Join(dir, "hub"), "--out", out}
	for _, h := range threeHosts {
		args = append(args, "--agent", h)
	}
	if b, err := exec.Command(binary, args...).CombinedOutput(); err != nil {
		t.Fatalf("nats-config: %v\n%s", err, b)
	}
	routePorts := make([]int, count)
	for i := range count {
		routePorts[i] = ports.Free(t)
	}
	n := &natsNodes{}
	for i := range count {
		var routes []string
		for j := range count {
			if j != i {
				routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", routePorts[j]))
			}
		}
		conf := fmt.Sprintf("server_name: n%d\ninclude \"peerlink-users.conf\"\n", i)
		if count > 1 {
			conf += fmt.Sprintf("cluster { name: peerlink, listen: \"127.0.0.1:%d\", routes: [%s] }\n", routePorts[i], strings.Join(routes, ", "))
		}
		srv := natstest.Start(t, out, conf, nil)
		n.srvs = append(n.srvs, srv)
		n.urls = append(n.urls, srv.URL)
	}
	if count > 1 {
		waitFor(t, 20*time.Second, "the NATS nodes to route to each other", func() bool {
			for _, s := range n.srvs {
				if s.NumRoutes() < count-1 {
					return false
				}
			}
			return true
		})
	}
	return n
}

// natsCluster starts count NATS nodes and a hub whose broker they are;
// startAgent then starts agents on the same nodes with their own keys.
func natsCluster(t *testing.T, count int) (*cluster, *natsNodes) {
	t.Helper()
	dir := t.TempDir()
	n := startNATS(t, dir, count)
	c := &cluster{t: t, dir: dir, hubArgs: []string{"--insecure-plain", "--broker-url", n.url()}, nkeys: filepath.Join(dir, "nats")}
	// Stopped before the NATS nodes (cleanups run last first), and the
	// immutable flags cleared as liveCluster does.
	t.Cleanup(func() {
		c.stopAll()
		for _, h := range threeHosts {
			_ = exec.Command("chattr", "-R", "-i", filepath.Join(dir, "roots", h)).Run()
		}
	})
	startCluster(c)
	c.brokerWS = n.url()
	return c, n
}

// Over one NATS node: a session start copies site-a's files to the other
// hosts, a write-open on site-a locks the copies on site-b and site-c, the
// close propagates and releases them, and tree changes propagate.
func TestNATSLiveAndTransfer(t *testing.T) {
	t.Parallel()
	c, _ := natsCluster(t, 1)
	writeFile(t, c.root("site-a"), "docs/report.txt", "only on site-a at the start\n", liveT0)
	writeFile(t, c.root("site-a"), "big.bin", strings.Repeat("0123456789abcdef", 300<<10), liveT0) // several chunks, several NATS messages each
	const rel = "team/plan.txt"
	for _, h := range threeHosts {
		writeFile(t, c.root(h), rel, "plan v1\n", liveT0)
	}
	startLive(t, c, "nats")
	sameTrees(t, c.root("site-a"), c.root("site-b"), c.root("site-c"))
	liveLockAndPropagate(t, c, "nats", rel)
	natsMetrics(t, c)
}

// natsMetrics checks that the hub's /metrics count what its NATS link
// carried.
func natsMetrics(t *testing.T, c *cluster) {
	t.Helper()
	code, page := scrape(t, c.hubURL+"/metrics", c.apiToken, c.ca)
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, w := range []struct {
		name   string
		labels []string
		min    float64
	}{
		{"peerlink_nats_connected", nil, 1},
		{"peerlink_nats_peers", nil, float64(len(threeHosts))},
		{"peerlink_nats_frames_total", []string{"direction=in"}, 1},
		{"peerlink_nats_frames_total", []string{"direction=out"}, 1},
		{"peerlink_nats_bytes_total", []string{"direction=in"}, 1},
		{"peerlink_nats_bytes_total", []string{"direction=out"}, 1},
	} {
		if v, ok := metricValue(page, w.name, w.labels...); !ok || v < w.min {
			t.Errorf("the hub's %s%v = %v (present %v), want at least %v", w.name, w.labels, v, ok, w.min)
		}
	}
	if v, ok := metricValue(page, "peerlink_nats_pending", "unit=bytes"); !ok || v > 64<<20 {
		t.Errorf("the hub's peerlink_nats_pending bytes = %v (present %v), want 0 to 64 MiB", v, ok)
	}
}

// liveLockAndPropagate opens rel on site-a for writing, waits for the
// copies on site-b and site-c to be locked, writes and closes, and waits
// for the new content everywhere and the locks gone; then a file created
// on site-b reaches the others.
func liveLockAndPropagate(t *testing.T, c *cluster, session, rel string) {
	t.Helper()
	imm, _ := immutableWorks(t, c.dir)
	w, err := os.OpenFile(livePath(c, "site-a", rel), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	waitFor(t, liveWait, "the copies on site-b and site-c to be locked", func() bool {
		return lockedOn(t, c, "site-b", rel, imm) && lockedOn(t, c, "site-c", rel, imm)
	})
	// Written in place, as an editor would, over what the last call wrote:
	// the same length every time (RFC3339Nano drops trailing zeros, and a
	// shorter line left the end of the last one behind it: CI waited for
	// a content that was not the file's).
	next := fmt.Sprintf("written on site-a at %s\n", time.Now().UTC().Format("2006-01-02T15:04:05.000000000Z"))
	if _, err := w.WriteAt([]byte(next), 0); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, liveWait, "site-b and site-c to hold the new content, released", func() bool {
		return releasedOn(t, c, "site-b", rel, next, 0o644) && releasedOn(t, c, "site-c", rel, next, 0o644)
	})
	waitFor(t, liveWait, "the lock table to be empty", func() bool { return len(locks(t, c, session)) == 0 })
	created := fmt.Sprintf("new-%d.txt", time.Now().UnixNano())
	writeFile(t, c.root("site-b"), created, "made on site-b\n", time.Time{})
	converged(t, c, liveWait, "site-b's create", func(tr map[string]node) bool { _, ok := tr[created]; return ok })
	if s := c.session(session); s.Status.ErrorCount != 0 || s.Status.Quarantined != 0 {
		t.Errorf("session: %d errors %v, %d quarantined; want none", s.Status.ErrorCount, s.Status.Errors, s.Status.Quarantined)
	}
}

// Three NATS nodes; the one with the most peerlink clients is shut down
// mid-session. Its clients connect to another node, the hub sees every
// agent back, and locks and changes propagate as before.
func TestNATSClusterNodeKilled(t *testing.T) {
	t.Parallel()
	c, n := natsCluster(t, 3)
	const rel = "team/plan.txt"
	for _, h := range threeHosts {
		writeFile(t, c.root(h), rel, "plan v1\n", liveT0)
	}
	startLive(t, c, "ha")
	liveLockAndPropagate(t, c, "ha", rel)

	victim := 0
	for i, s := range n.srvs {
		if s.NumClients() > n.srvs[victim].NumClients() {
			victim = i
		}
	}
	t.Logf("shutting down NATS node %d with %d clients", victim, n.srvs[victim].NumClients())
	n.srvs[victim].Shutdown()
	waitFor(t, liveWait, "every peerlink client on the other nodes", func() bool {
		sum := 0
		for i, s := range n.srvs {
			if i != victim {
				sum += s.NumClients()
			}
		}
		return sum == 1+len(threeHosts)
	})
	for _, h := range threeHosts {
		c.waitAgent(h, true, c.proc("agent-"+h))
	}
	liveLockAndPropagate(t, c, "ha", rel)
	converged(t, c, liveWait, "the three roots to hold the same tree", nil)
}

// Bad input on a NATS cluster: an agent whose key the cluster does not
// know, and one pointed at a NATS server that is down, each say what is
// wrong and keep retrying with back-off; a client holding site-a's key
// can neither send to the hub as site-b nor read site-b's frames, and the
// real site-b stays connected.
func TestNATSBadCredentialsDownServerAndRogue(t *testing.T) {
	t.Parallel()
	c, n := natsCluster(t, 1)
	c.startAgent("site-b")

	// Keys of another hub's secret: unknown to this cluster.
	foreign := filepath.Join(c.dir, "foreign")
	if b, err := exec.Command(binary, "nats-config", "--data", filepath.Join(c.dir, "other-hub"), "--agent", "site-c", "--out", foreign).CombinedOutput(); err != nil {
		t.Fatalf("nats-config: %v\n%s", err, b)
	}
	refused := c.start("agent-refused", "agent", "--name", "site-c", "--broker", n.url(), "--data", filepath.Join(c.dir, "agent-refused"),
		"--nkey-file", filepath.Join(foreign, "site-c.nk"))
	down := c.start("agent-down", "agent", "--name", "site-a", "--broker", fmt.Sprintf("nats://127.0.0.1:%d", ports.Free(t)),
		"--data", filepath.Join(c.dir, "agent-down"), "--nkey-file", filepath.Join(c.nkeys, "site-a.nk"))
	for _, w := range []struct {
		p    *proc
		want string
	}{
		{refused, "refused the credentials of agent site-c"},
		{down, "is the NATS cluster running"},
	} {
		waitFor(t, 30*time.Second, w.p.name+" to say why and retry twice", func() bool {
			b, _ := os.ReadFile(w.p.log)
			return strings.Count(string(b), w.want) >= 2 && strings.Contains(string(b), "retry_in")
		})
		if w.p.exited() {
			t.Errorf("%s exited: it should keep retrying", w.p.name)
		}
	}

	rogue(t, n.url(), filepath.Join(c.nkeys, "site-a.nk"))
	if _, connected := agentExists(t, c, "site-b"); !connected {
		t.Errorf("site-b was disconnected by the rogue")
	}
}

// rogue connects with the key in seedFile (site-a's) and tries to publish a
// frame to the hub as site-b, announce site-b and read site-b's frames:
// the NATS server refuses each as a permissions violation.
func rogue(t *testing.T, url, seedFile string) {
	t.Helper()
	kp, err := natslink.LoadSeed(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	errs := make(chan error, 8)
	nc, err := nats.Connect(url, nats.Nkey(pub, kp.Sign), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	if err != nil {
		t.Fatalf("site-a's key: %v", err)
	}
	defer nc.Close()
	want := func(what string) {
		t.Helper()
		select {
		case err := <-errs:
			if !errors.Is(err, nats.ErrPermissionViolation) {
				t.Errorf("%s with site-a's key: %v, want a permissions violation", what, err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("%s with site-a's key: no refusal", what)
		}
	}
	forged, _ := wire.Marshal(wire.HubName, 0, 0, &wire.Hello{}, nil)
	if err := nc.Publish("peerlink.to.hub.site-b.0", append([]byte{0}, forged...)); err != nil {
		t.Fatal(err)
	}
	want("a frame to the hub as site-b")
	if err := nc.Publish("peerlink.presence.site-b", []byte(`{"role":"agent","instance":"x","up":false}`)); err != nil {
		t.Fatal(err)
	}
	want("a goodbye as site-b")
	if _, err := nc.Subscribe("peerlink.to.site-b.*.*", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	want("reading site-b's frames")
}
