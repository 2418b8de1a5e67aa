//go:build linux

package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// `session start --wait` says what the start set aside (issue 15, item 2):
// with the manual resolver and two files changed differently on both
// sites, it names the number of paths in the File Conflict List and how to
// list them, and how many files and folders each host's scan found, the
// real numbers. It exits 0: the session runs (the README says so).
func TestStartWaitSaysWhatItSetAside(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	for _, h := range hostsAB {
		c.startAgent(h)
		for i := range 12 {
			writeFile(t, c.root(h), fmt.Sprintf("common/f%02d.txt", i), "the same\n", liveT0)
		}
		writeFile(t, c.root(h), "a.txt", "a on "+h+"\n", liveT0)
		writeFile(t, c.root(h), "b.txt", "b on "+h+"\n", liveT0)
	}
	c.createSession("w", hostsAB, "--resolver", "manual")
	r := c.cli("session", "start", "w", "--wait")
	if r.code != 0 {
		t.Fatalf("start --wait: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	n := len(snapshot(t, c.root("site-a")))
	for _, want := range []string{
		"2 paths set aside in the File Conflict List",
		"conflicts list w",
		fmt.Sprintf("site-a %d, site-b %d", n, n),
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("start --wait does not say %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, ": 0 entries scanned") {
		t.Errorf("start --wait says no entry was scanned:\n%s", r.stdout)
	}
}

// `session start --wait` ends with the reason when a host is not there
// (issue 15, item 5), instead of printing "attaching" for ever; with
// --wait-for-hosts it waits that long for it.
func TestStartWaitEndsWhenAHostIsAway(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	for _, h := range hostsAB {
		c.startAgent(h)
	}
	c.createSession("away", hostsAB)
	c.proc("agent-site-b").stop()
	c.waitAgent("site-b", false, nil)
	r := c.cli("session", "start", "away", "--wait")
	if r.code == 0 || !strings.Contains(r.stderr, "site-b, not connected") || !strings.Contains(r.stderr, "--wait-for-hosts") {
		t.Fatalf("start --wait with site-b away: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	c.mustCLI("session", "stop", "away")

	done := make(chan result, 1)
	go func() { done <- c.cli("session", "start", "away", "--wait", "--wait-for-hosts", "2m") }()
	c.startAgent("site-b")
	if r := <-done; r.code != 0 || !strings.Contains(r.stdout, "session away synchronised") {
		t.Errorf("start --wait --wait-for-hosts 2m, site-b started meanwhile: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// A mistyped root is refused when the session is defined (issue 15, item
// 5), by the agent that would serve it, with a message that names the host
// (not a literal HOST) and what to do; a root on a host that is not
// connected is checked when the session starts.
func TestCreateChecksRoots(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	for _, h := range hostsAB {
		c.startAgent(h)
	}
	missing := filepath.Join(c.dir, "no-such-root")
	r := c.cli("session", "create", "m", "--host", "site-a="+c.root("site-a"), "--host", "site-b="+missing)
	mustFail(t, "create with a missing root", r, "site-b: root "+missing+" does not exist", "--host site-b="+missing)
	if strings.Contains(r.stderr, "HOST=") {
		t.Errorf("the refusal names no host: %s", r.stderr)
	}
	file := filepath.Join(c.dir, "a-file")
	writeFile(t, c.dir, "a-file", "not a folder\n", time.Time{})
	mustFail(t, "create with a file as root", c.cli("session", "create", "f", "--host", "site-a="+file, "--host", "site-b="+c.root("site-b")),
		"site-a: root "+file+" is not a folder")
	if out := c.mustCLI("session", "list"); strings.Contains(out, "m ") || strings.Contains(out, "f ") {
		t.Errorf("a refused session was created:\n%s", out)
	}

	c.proc("agent-site-b").stop()
	c.waitAgent("site-b", false, nil)
	c.mustCLI("session", "create", "later", "--host", "site-a="+c.root("site-a"), "--host", "site-b="+missing)
}
