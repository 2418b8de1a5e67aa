//go:build linux

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Rescans (issue 5): an agent that lost file system events, or that cannot
// watch every folder of its root because the inotify watch limit was
// reached, scans its root again and reports what it finds as live changes.
// The session goes on: it does not start over, and the agent does not
// reconnect.

// startAgentWatchLimited starts the agent host in a user namespace of its
// own whose inotify watch limit (/proc/sys/user/max_inotify_watches, which
// the kernel applies on top of fs.inotify.max_user_watches) is watches: the
// agent meets the real limit, inotify_add_watch failing with ENOSPC, while
// every other process on the machine keeps the global one. Root in the
// namespace is root outside it (uid 0 mapped to 0), so the agent reads and
// writes the test's files; without privileges outside the namespace it
// detects write-opens by leases rather than fanotify, and sets no
// immutable flag.
func startAgentWatchLimited(t *testing.T, c *cluster, host string, watches int, extra ...string) *proc {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mapping uid 0 into a new user namespace needs root")
	}
	name := "agent-" + host
	args := append([]string{"-c", `echo "$1" > /proc/sys/user/max_inotify_watches || exit 97; shift; exec "$@"`, "sh",
		fmt.Sprint(watches), binary, "--log-level", "debug", "agent", "--name", host, "--broker", c.brokerWS, "--token-file", c.tokenFile(),
		"--data", filepath.Join(c.dir, name)}, extra...)
	cmd := exec.Command("/bin/sh", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
	}
	p, err := c.launch(name, cmd)
	if err != nil {
		t.Skipf("cannot start a process in a new user namespace: %v", err)
	}
	waitFor(t, 20*time.Second, "agent "+host+" in its user namespace to connect", func() bool {
		if p.exited() {
			if p.cmd.ProcessState.ExitCode() == 97 {
				t.Skipf("cannot set the user namespace's watch limit: %s", p.logTail(5))
			}
			t.Fatalf("agent %s exited: %v\n%s", host, p.err, p.logTail(30))
		}
		st, err := c.client().Status(t.Context())
		if err != nil {
			return false
		}
		for _, a := range st.Agents {
			if a.Name == host && a.Connected {
				return true
			}
		}
		return false
	})
	return p
}

// The watch limit, met for real: site-a's agent may hold 4 inotify watches,
// for a root with 6 folders. It says so where an administrator looks — the
// session's status names fs.inotify.max_user_watches, what to raise it to
// and how often site-a scans meanwhile — and keeps watching what it can: a
// write-open in the root still locks the other copies. Files made in the
// folders it could not watch, and in a new folder, reach the other hosts by
// its periodic scans, and the session never starts over.
func TestLiveWatchLimit(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	// inotify's limits are under test: as root the agent would take the
	// tree from fanotify (sync/watch tests its queue overflow).
	c.agentArgs = []string{"--watch-tree", "inotify"}
	const folders = 6
	for _, h := range threeHosts {
		writeFile(t, c.root(h), "top.txt", "top v1\n", liveT0)
		for i := range folders {
			writeFile(t, c.root(h), fmt.Sprintf("w%d/old.txt", i), "old\n", liveT0)
		}
	}
	written := time.Now()
	startAgentWatchLimited(t, c, "site-a", 4, "--rescan-interval", "1s")
	for _, h := range threeHosts[1:] {
		c.startAgent(h)
	}
	c.createSession("wl", threeHosts)
	time.Sleep(time.Until(written.Add(settledAfter)))
	started := startClean(t, c, "wl").Status.Started

	var warning string
	waitFor(t, liveWait, "the session's status to warn about the watch limit", func() bool {
		for _, w := range c.session("wl").Status.Warnings {
			if strings.Contains(w, "max_user_watches") {
				warning = w
				return true
			}
		}
		return false
	})
	t.Logf("warning: %s", warning)
	for _, want := range []string{"site-a: inotify watch limit reached (fs.inotify.max_user_watches=", "sysctl -w fs.inotify.max_user_watches=",
		"until then site-a scans " + c.root("site-a") + " every 1s"} {
		if !strings.Contains(warning, want) {
			t.Errorf("warning %q does not say %q", warning, want)
		}
	}
	if out := c.mustCLI("session", "status", "wl"); !strings.Contains(out, "sysctl -w fs.inotify.max_user_watches=") {
		t.Errorf("peerlink session status does not show the warning:\n%s", out)
	}

	// The root is watched: a write-open there locks the other copies.
	w, err := os.OpenFile(livePath(c, "site-a", "top.txt"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, liveWait, "top.txt to be locked on site-b and site-c", func() bool {
		return lockedOn(t, c, "site-b", "top.txt", false) && lockedOn(t, c, "site-c", "top.txt", false)
	})
	if _, err := w.WriteAt([]byte("top v2\n"), 0); err != nil {
		t.Fatal(err)
	}
	w.Close()

	// A file in every folder: at least two of them are not watched.
	for i := range folders {
		writeFile(t, c.root("site-a"), fmt.Sprintf("w%d/new.txt", i), fmt.Sprintf("new in w%d\n", i), time.Time{})
	}
	writeFile(t, c.root("site-a"), "late/deeper/new.txt", "in a folder made past the limit\n", time.Time{})
	converged(t, c, liveWait, "site-a's files in folders it cannot watch to reach site-b and site-c", func(tr map[string]node) bool {
		for i := range folders {
			if _, ok := tr[fmt.Sprintf("w%d/new.txt", i)]; !ok {
				return false
			}
		}
		_, late := tr["late/deeper/new.txt"]
		return late && tr["top.txt"].Hash == shaHex("top v2\n")
	})
	waitFor(t, liveWait, "top.txt to be released on site-b and site-c", func() bool {
		return releasedOn(t, c, "site-b", "top.txt", "top v2\n", 0o644) && releasedOn(t, c, "site-c", "top.txt", "top v2\n", 0o644)
	})
	s := c.session("wl")
	if !s.Status.Started.Equal(started) || s.Status.Phase != "running" {
		t.Errorf("session %s, started %s; want it running since %s, never started over", s.Status.Phase, s.Status.Started, started)
	}
	if s.Status.ErrorCount != 0 {
		t.Errorf("session errors: %v", s.Status.Errors)
	}
	alog := c.proc("agent-site-a").logTail(100000)
	if !strings.Contains(alog, "periodic scan") || !strings.Contains(alog, "rescan done") {
		t.Errorf("site-a's log shows no periodic scan")
	}
	if strings.Contains(alog, "lost the broker") {
		t.Errorf("site-a reconnected")
	}
}

// Events lost for real: site-a's agent is stopped (SIGSTOP) while its root
// changes far faster than it could read — tens of thousands of events, more
// than the kernel queues for one inotify instance (fs.inotify.
// max_queued_events, 16384 by default) — and the changes that matter come
// after the queue is full: the kernel drops them, and queues IN_Q_OVERFLOW.
// Continued, the agent rescans in place: every change reaches site-b and
// site-c, the session does not start over, and the agent never leaves the
// broker.
func TestLiveOverflow(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	// inotify's limits are under test: as root the agent would take the
	// tree from fanotify (sync/watch tests its queue overflow).
	c.agentArgs = []string{"--watch-tree", "inotify"}
	for _, h := range threeHosts {
		writeFile(t, c.root(h), "edit.txt", "edit v1\n", liveT0)
		writeFile(t, c.root(h), "del.txt", "delete me\n", liveT0)
		writeFile(t, c.root(h), "perm.txt", "perm\n", liveT0)
		writeFile(t, c.root(h), "olddir/x.txt", "x\n", liveT0)
		mkdirMode(t, c.root(h), "churn", 0o755)
	}
	startLive(t, c, "ov")
	started := c.session("ov").Status.Started
	agent := c.proc("agent-site-a")

	queued := 16384
	if b, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events"); err == nil {
		fmt.Sscan(string(b), &queued)
	}
	if err := agent.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			agent.cmd.Process.Signal(syscall.SIGCONT)
		}
	}()
	// Three events a file (create, close, delete), none of them left.
	churn := livePath(c, "site-a", "churn")
	for i := range queued/3 + 2000 {
		p := filepath.Join(churn, fmt.Sprintf("c%05d", i))
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	// Lost: the queue is full.
	const burst = 200
	for i := range burst {
		writeFile(t, c.root("site-a"), fmt.Sprintf("burst/d%d/f%03d.txt", i%10, i), fmt.Sprintf("burst %d\n", i), time.Time{})
	}
	writeFile(t, c.root("site-a"), "edit.txt", "edit v2, while events were lost\n", time.Time{})
	if err := os.Remove(livePath(c, "site-a", "del.txt")); err != nil {
		t.Fatal(err)
	}
	chmod(t, c.root("site-a"), "perm.txt", 0o600)
	if err := os.Rename(livePath(c, "site-a", "olddir"), livePath(c, "site-a", "newdir")); err != nil {
		t.Fatal(err)
	}
	if err := agent.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false

	waitFor(t, liveWait, "site-a to log the events lost", func() bool {
		return strings.Contains(agent.logTail(100000), "file system events were lost")
	})
	converged(t, c, 2*liveWait, "the changes made while events were lost to reach every host", func(tr map[string]node) bool {
		for i := range burst {
			if _, ok := tr[fmt.Sprintf("burst/d%d/f%03d.txt", i%10, i)]; !ok {
				return false
			}
		}
		_, del := tr["del.txt"]
		_, old := tr["olddir"]
		_, moved := tr["newdir/x.txt"]
		return !del && !old && moved && tr["perm.txt"].Mode == 0o600 && tr["edit.txt"].Hash == shaHex("edit v2, while events were lost\n")
	})
	s := c.session("ov")
	if !s.Status.Started.Equal(started) || s.Status.Phase != "running" {
		t.Errorf("session %s, started %s; want it running since %s, never started over", s.Status.Phase, s.Status.Started, started)
	}
	if s.Status.ErrorCount != 0 || s.Status.Quarantined != 0 {
		t.Errorf("session: %d errors %v, %d quarantined; want none", s.Status.ErrorCount, s.Status.Errors, s.Status.Quarantined)
	}
	alog := agent.logTail(100000)
	if !strings.Contains(alog, "rescan done") {
		t.Errorf("site-a's log shows no rescan")
	}
	if strings.Contains(alog, "lost the broker") {
		t.Errorf("site-a reconnected")
	}
}
