//go:build linux

package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/web/api"
)

// People (issue 12, points 4 and 5) end to end, through the CLI of a real
// hub and real agents: API tokens with roles, and a lock released by hand.

// newToken makes an API token through the CLI as the admin and returns
// its secret, which create prints alone on stdout.
func newToken(t *testing.T, c *cluster, name string, role api.Role) string {
	t.Helper()
	secret := strings.TrimSpace(c.mustCLI("tokens", "create", "--name", name, "--role", string(role)))
	if err := api.CheckTokenFormat(secret); err != nil {
		t.Fatalf("tokens create printed %q: %v", secret, err)
	}
	return secret
}

// as runs the CLI with the API token secret, trusting the hub's own CA.
func as(t *testing.T, c *cluster, secret string, args ...string) result {
	t.Helper()
	return runPeerlink(t, []string{"PEERLINK_HUB=" + c.hubURL, "PEERLINK_TOKEN=" + secret, "PEERLINK_CA=" + c.ownCAFile()}, args...)
}

// A viewer changes nothing and releases no lock; a helpdesk changes no
// session but releases a lock by hand, which restores every target's copy
// as a normal release does, and the event log says who did it.
func TestPeopleRolesAndLockReleasedByHand(t *testing.T) {
	c := liveCluster(t)
	const rel, orig = "team/plan.txt", "plan v1\n"
	for _, h := range threeHosts {
		writeFile(t, c.root(h), rel, orig, liveT0)
		chmod(t, c.root(h), rel, 0o664)
	}
	startLive(t, c, "pr")
	viewer := newToken(t, c, "vera", api.RoleViewer)
	helpdesk := newToken(t, c, "hal", api.RoleHelpdesk)

	if r := as(t, c, viewer, "session", "list"); r.code != 0 || !strings.Contains(r.stdout, "pr") {
		t.Errorf("a viewer cannot list sessions: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	mustFail(t, "viewer: session stop", as(t, c, viewer, "session", "stop", "pr"), "needs the admin role", "token vera", "the viewer role")
	mustFail(t, "viewer: locks release", as(t, c, viewer, "locks", "release", "pr", rel), "needs the helpdesk role", "token vera")
	mustFail(t, "viewer: tokens create", as(t, c, viewer, "tokens", "create", "--name", "mine", "--role", "admin"), "needs the admin role")
	mustFail(t, "helpdesk: session stop", as(t, c, helpdesk, "session", "stop", "pr"), "needs the admin role", "token hal", "the helpdesk role")
	mustFail(t, "helpdesk: session delete", as(t, c, helpdesk, "session", "delete", "pr"), "needs the admin role")
	if s, err := c.client().Session(context.Background(), "pr"); err != nil || s.Status.Phase != api.PhaseRunning {
		t.Fatalf("session after refused changes: %v %v, want running", s.Status.Phase, err)
	}

	w, err := os.OpenFile(livePath(c, "site-a", rel), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	waitFor(t, liveWait, "the copies on site-b and site-c to be locked", func() bool {
		return lockedOn(t, c, "site-b", rel, false) && lockedOn(t, c, "site-c", rel, false) && len(locks(t, c, "pr")) == 1
	})
	mustFail(t, "helpdesk: release an unlocked path", as(t, c, helpdesk, "locks", "release", "pr", "team/other.txt"), "holds no lock", "peerlink locks pr")
	r := as(t, c, helpdesk, "locks", "release", "pr", rel)
	if r.code != 0 || !strings.Contains(r.stdout, "copies restored on site-b, site-c") {
		t.Fatalf("helpdesk: locks release: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, h := range []string{"site-b", "site-c"} {
		waitFor(t, liveWait, rel+" on "+h+" to be restored", func() bool { return releasedOn(t, c, h, rel, orig, 0o664) })
	}
	if l := locks(t, c, "pr"); len(l) != 0 {
		t.Errorf("locks after the release by hand: %+v, want none", l)
	}
	// The CLI's answer came after the hub recorded the release.
	evs, err := c.client().Events(context.Background(), "pr", api.EventQuery{Kind: "release-by-hand"})
	if err != nil || len(evs) != 1 || !strings.HasPrefix(evs[0].User, "token hal (") || evs[0].Path != rel {
		t.Errorf("release-by-hand events %+v (%v), want one for %s by token hal", evs, err, rel)
	}
}

// A token revoked while a CLI command runs: the command's next request is
// refused with 401, saying the token was revoked and what to do, and the
// command exits non-zero rather than waiting on. The hub's shared token
// and a malformed token sign nobody in.
func TestPeopleTokenRevokedWhileACommandRuns(t *testing.T) {
	c := newCluster(t)
	c.startAgent("site-a")
	b := c.startAgent("site-b")
	c.createSession("rv", []string{"site-a", "site-b"})
	b.stop()
	waitFor(t, 20*time.Second, "site-b to be disconnected", func() bool {
		st, err := c.client().Status(context.Background())
		if err != nil {
			return false
		}
		for _, a := range st.Agents {
			if a.Name == "site-b" {
				return !a.Connected
			}
		}
		return false
	})
	ops := newToken(t, c, "ops", api.RoleAdmin)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "session", "start", "rv", "--wait", "--wait-for-hosts", "10m")
	cmd.Env = append(os.Environ(), "PEERLINK_HUB="+c.hubURL, "PEERLINK_TOKEN="+ops, "PEERLINK_TOKEN_FILE=", "PEERLINK_CA="+c.ownCAFile())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	waitFor(t, 30*time.Second, "the start to wait for site-b", func() bool {
		s, err := c.client().Session(context.Background(), "rv")
		return err == nil && s.Status.Phase == api.PhaseAttaching
	})
	c.mustCLI("tokens", "revoke", "ops")
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatalf("session start --wait still runs a minute after its token was revoked\n%s%s", stdout.String(), stderr.String())
	}
	if err == nil {
		t.Errorf("session start --wait exited 0 after its token was revoked")
	}
	for _, want := range []string{"ops was revoked", "ask an admin for a new one", "peerlink tokens create"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr.String())
		}
	}
	mustFail(t, "a revoked token", as(t, c, ops, "status"), "ops was revoked")
	mustFail(t, "the shared token", as(t, c, c.token, "status"), "shared token", "no longer signs people in", "DATA/admin-token")
	mustFail(t, "a malformed API token", as(t, c, "plk_short", "status"), "malformed API token", "plk_ followed by 43")
	mustFail(t, "an unknown API token", as(t, c, api.TokenPrefix+strings.Repeat("A", 43), "status"), "does not know it")
	if r := c.cli("status"); r.code != 0 || strings.Contains(r.stdout, "WARNING") {
		t.Errorf("status on a new hub: exit %d, want 0 and no warning about the shared token:\n%s", r.code, r.stdout)
	}
}
