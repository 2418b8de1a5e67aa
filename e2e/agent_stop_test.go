//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An agent stopped cleanly leaves none of its copies locked (issue 15,
// item 1): with both files held open for writing on site-a and locked on
// site-b and site-c, site-b's agent is stopped (SIGTERM, as systemd and
// Ctrl-C do) and its copies get their write bits back, without the
// immutable flag, and their mirrored lock file goes. site-c's agent is
// killed (no clean stop): its copies stay locked until `peerlink agent
// unlock --data DIR`, which refuses to run beside a running agent.
func TestAgentStopReleasesLocks(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	imm := staleSetup(t, c, "stop")

	b := c.proc("agent-site-b")
	b.stop()
	if code := b.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("site-b's agent exited with %d on SIGTERM, want 0", code)
	}
	for rel, mode := range staleFiles {
		if !releasedOn(t, c, "site-b", rel, rel+" v1\n", mode) {
			t.Errorf("%s on site-b still locked after its agent stopped cleanly", rel)
		}
	}
	if _, err := os.Lstat(livePath(c, "site-b", staleLockFile)); err == nil {
		t.Errorf("the mirrored lock file %s stayed on site-b", staleLockFile)
	}
	if recs := journalOf(t, c, "site-b"); len(recs) != 0 {
		t.Errorf("site-b's journal still holds %d lock(s)", len(recs))
	}

	// Refused while the agent runs: it holds agent.db.
	cData := filepath.Join(c.dir, "agent-site-c")
	if r := c.cli("agent", "unlock", "--data", cData); r.code == 0 || !strings.Contains(r.stderr, "stop") {
		t.Errorf("agent unlock beside a running agent: exit %d, %q", r.code, r.stderr)
	}
	c.proc("agent-site-c").kill()
	if !staleLocked(t, c, "site-c", imm) {
		t.Fatal("site-c's copies released by a kill -9: nothing left to unlock")
	}
	r := c.cli("agent", "unlock", "--data", cData)
	if r.code != 0 || !strings.Contains(r.stdout, "2 locked copies released") {
		t.Fatalf("agent unlock: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
	for rel, mode := range staleFiles {
		if !releasedOn(t, c, "site-c", rel, rel+" v1\n", mode) {
			t.Errorf("%s on site-c still locked after agent unlock", rel)
		}
	}
	if r := c.cli("agent", "unlock", "--data", filepath.Join(c.dir, "no-such-agent")); r.code == 0 || !strings.Contains(r.stderr, "no agent state there") {
		t.Errorf("agent unlock of a folder without agent.db: exit %d, %q", r.code, r.stderr)
	}
}
