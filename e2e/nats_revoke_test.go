//go:build linux

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/roles/broker/natslink"
	"github.com/peerlink/peerlink/wire"
)

// `peerlink agents revoke` on a hub whose broker is NATS: the hub takes
// the revoked agent for gone at once, though the NATS server still
// admits its key and its process runs on; `peerlink nats-config` leaves
// it out of the users, and the NATS server, reloaded with them, closes
// its connection and refuses its key. The other agents stay connected,
// and a hub started again refuses it as well.
func TestNATSRevokedAgentIsCutOff(t *testing.T) {
	t.Parallel()
	c, n := natsCluster(t, 1)
	c.startAgent("site-a")
	revoked := c.startAgent("site-c")

	c.mustCLI("agents", "revoke", "site-c")
	c.waitAgent("site-c", false, nil)
	if revoked.exited() {
		t.Fatal("site-c's agent exited: the hub alone must have cut it off, with the NATS server still admitting it")
	}
	if _, connected := agentExists(t, c, "site-a"); !connected {
		t.Error("site-a was disconnected by site-c's revocation")
	}

	// A hub started again refuses it too: it hears site-c's beats (the
	// NATS server still carries them) and drops them.
	c.proc("hub").stop()
	c.startHub()
	c.waitAgent("site-a", true, c.proc("agent-site-a"))
	waitFor(t, liveWait, "the restarted hub to drop site-c's messages", func() bool {
		_, page := scrape(t, c.hubURL+"/metrics", c.apiToken, c.ca)
		v, ok := metricValue(page, "peerlink_nats_dropped_total")
		return ok && v > 0
	})
	if _, connected := agentExists(t, c, "site-c"); connected {
		t.Error("a hub started again takes the revoked site-c for connected")
	}

	out := filepath.Join(c.dir, "nats")
	args := []string{"nats-config", "--data", filepath.Join(c.dir, "hub"), "--out", out}
	for _, h := range threeHosts {
		args = append(args, "--agent", h)
	}
	b, err := exec.Command(binary, args...).CombinedOutput()
	if err != nil || !strings.Contains(string(b), "agent site-c was revoked") {
		t.Fatalf("nats-config after the revocation: %v\n%s", err, b)
	}
	users, err := os.ReadFile(filepath.Join(out, "peerlink-users.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(users), "# site-c\n") || !strings.Contains(string(users), "# site-a\n") {
		t.Fatalf("peerlink-users.conf after revoking site-c:\n%s", users)
	}
	if err := n.srvs[0].Reload(); err != nil {
		t.Fatalf("reload the NATS server: %v", err)
	}
	key, err := natslink.LoadSeed(filepath.Join(out, "site-c.nk"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if cl, err := natslink.Dial(ctx, natslink.Options{URL: n.url(), Hello: wire.Hello{Role: wire.RoleAgent, Name: "site-c", Version: "test"}, Key: key, Log: zerolog.Nop()}); err == nil {
		cl.Close()
		t.Fatal("the reloaded NATS server still admits site-c's key")
	}
	waitFor(t, liveWait, "the NATS server to hold only the hub's and site-a's connections", func() bool { return n.srvs[0].NumClients() == 2 })

}
