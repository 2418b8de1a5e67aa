//go:build linux

package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Each role's port given for the other's is named for what it is (issue
// 15, item 6): the CLI pointed at the broker's port says that is the
// broker and where the hub's API is, instead of "hub answered 404 Not
// Found"; an agent pointed at the console's port says that is the hub's
// console and where the broker is, and exits instead of retrying for ever.
func TestWrongPortsAreNamed(t *testing.T) {
	t.Parallel()
	c := newCluster(t)

	r := c.cli("status", "--hub", fmt.Sprintf("https://127.0.0.1:%d", c.brkPort))
	if r.code == 0 || !strings.Contains(r.stderr, "is the peerlink broker") || !strings.Contains(r.stderr, "8181") {
		t.Errorf("the CLI at the broker's port: exit %d, %q", r.code, r.stderr)
	}

	p := c.start("agent-lost", "agent", "--name", "lost", "--broker", fmt.Sprintf("wss://127.0.0.1:%d", c.apiPort),
		"--token-file", c.tokenFile(), "--data", filepath.Join(c.dir, "agent-lost"))
	if code := waitExit(t, p, 30*time.Second); code == 0 {
		t.Errorf("the agent at the console's port exited with 0")
	}
	if out := p.logTail(20); !strings.Contains(out, "is the hub's console and REST API") || !strings.Contains(out, "61617") {
		t.Errorf("the agent at the console's port said:\n%s", out)
	}
}
