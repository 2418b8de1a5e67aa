//go:build linux

package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/wire"
)

// A peer with the shared token but no part in any session (the test,
// connected to the broker as agent "evil") commands the agents of a running
// session as only the hub may: it attaches a root outside every session to
// site-a, scans it and reads a secret from it, locks, deletes and unlocks a
// file on site-b, and detaches site-a from the session. Every command is
// refused with a Fail of kind permission that names evil, and warned of in
// the agent's log; nothing happens on disk; and the session goes on
// propagating from site-a to site-b.
func TestRogueBrokerPeerIsNotObeyed(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	hosts := []string{"site-a", "site-b"}
	t.Cleanup(func() {
		for _, h := range hosts {
			_ = exec.Command("chattr", "-R", "-i", c.root(h)).Run() // whatever a lock left, for TempDir
		}
	})
	secretDir := filepath.Join(c.dir, "secret")
	writeFile(t, secretDir, "secret.txt", "the payroll\n", liveT0)
	for _, h := range hosts {
		writeFile(t, c.root(h), "victim.txt", "keep me\n", liveT0)
		writeFile(t, c.root(h), "locked.txt", "leave me writable\n", liveT0)
	}
	written := time.Now()
	procs := map[string]*proc{}
	for _, h := range hosts {
		procs[h] = c.startAgent(h)
	}
	c.createSession("s", hosts)
	time.Sleep(time.Until(written.Add(settledAfter)))
	startClean(t, c, "s")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	evil, err := c.dialPeer(ctx, wire.Hello{Role: wire.RoleAgent, Name: "evil", Protocol: wire.ProtocolVersion})
	if err != nil {
		t.Fatalf("connect as evil: %v", err)
	}
	defer evil.Close()
	refused := func(what string, in broker.Incoming, err error) {
		t.Helper()
		var we *wire.Error
		if !errors.As(err, &we) || we.Kind != wire.KindPermission || !strings.Contains(we.Msg, "evil") {
			t.Errorf("%s from evil answered %s %v (%d bytes of data); want a Fail of kind permission naming evil", what, in.Type, err, len(in.Data))
		}
	}

	secret := filepath.Join(secretDir, "secret.txt")
	fi, err := os.Stat(secret)
	if err != nil {
		t.Fatal(err)
	}
	in, err := evil.Request(ctx, "site-a", &wire.Attach{Session: "loot", Root: secretDir, Hosts: []string{"site-a", "evil"}}, nil)
	refused("attach of "+secretDir, in, err)
	in, err = evil.Request(ctx, "site-a", &wire.Scan{Session: "loot"}, nil)
	refused("scan", in, err)
	for _, session := range []string{"loot", "s"} {
		in, err = evil.Request(ctx, "site-a", &wire.Read{Session: session, Path: "secret.txt", Length: int(fi.Size()), Size: fi.Size(),
			Mtime: fi.ModTime().UnixNano(), Raw: true}, nil)
		if strings.Contains(string(in.Data), "payroll") {
			t.Errorf("evil read the secret through session %s: %q", session, in.Data)
		}
		if err == nil {
			t.Errorf("read of secret.txt in session %s from evil answered %s; want it refused", session, in.Type)
		}
	}
	vi, err := os.Stat(livePath(c, "site-a", "victim.txt"))
	if err != nil {
		t.Fatal(err)
	}
	in, err = evil.Request(ctx, "site-a", &wire.Read{Session: "s", Path: "victim.txt", Length: int(vi.Size()), Size: vi.Size(),
		Mtime: vi.ModTime().UnixNano(), Raw: true}, nil)
	refused("read of victim.txt in session s", in, err)

	lockedPerm := permOf(t, c, "site-b", "locked.txt")
	in, err = evil.Request(ctx, "site-b", &wire.Lock{Session: "s", Path: "locked.txt", Holder: "site-a", User: "mallory"}, nil)
	refused("lock of locked.txt", in, err)
	if p := livePath(c, "site-b", "locked.txt"); isImmutable(t, p) || permOf(t, c, "site-b", "locked.txt") != lockedPerm {
		t.Errorf("locked.txt on site-b after evil's lock: immutable %v, mode %v (was %v)", isImmutable(t, p), permOf(t, c, "site-b", "locked.txt"), lockedPerm)
	}

	bi, err := os.Stat(livePath(c, "site-b", "victim.txt"))
	if err != nil {
		t.Fatal(err)
	}
	have := wire.Entry{Path: "victim.txt", Kind: wire.KindFile, Size: bi.Size(), Mtime: bi.ModTime().UnixNano(), Mode: uint32(bi.Mode().Perm())}
	in, err = evil.Request(ctx, "site-b", &wire.Apply{Session: "s", Ops: []wire.Op{{Kind: wire.OpDelete, Path: "victim.txt", Have: &have}}}, nil)
	refused("apply of a delete of victim.txt", in, err)
	in, err = evil.Request(ctx, "site-b", &wire.Unlock{Session: "s", Paths: []string{"locked.txt"}}, nil)
	refused("unlock of locked.txt", in, err)
	in, err = evil.Request(ctx, "site-b", &wire.Owners{Session: "s", Paths: []string{"victim.txt"}}, nil)
	refused("owners of victim.txt", in, err)
	in, err = evil.Request(ctx, "site-a", &wire.Detach{Session: "s"}, nil)
	refused("detach of session s", in, err)

	if b, err := os.ReadFile(livePath(c, "site-b", "victim.txt")); err != nil || string(b) != "keep me\n" {
		t.Errorf("victim.txt on site-b after evil's delete: %q, %v; want it kept", b, err)
	}
	for _, h := range hosts {
		if n := len(logLines(t, procs[h], "command from a peer that is not the hub refused")); n == 0 {
			t.Errorf("%s's log has no warning of evil's commands:\n%s", h, procs[h].logTail(20))
		}
	}

	// The session is still whole: a new file on site-a reaches site-b.
	writeFile(t, c.root("site-a"), "after.txt", "still in sync\n", time.Now())
	waitFor(t, liveWait, "after.txt to reach site-b", func() bool {
		b, err := os.ReadFile(livePath(c, "site-b", "after.txt"))
		return err == nil && string(b) == "still in sync\n"
	})
	if s := c.session("s"); s.Status.ErrorCount != 0 {
		t.Errorf("session s after evil's commands: %d errors %v", s.Status.ErrorCount, s.Status.Errors)
	}
	if b, err := os.ReadFile(livePath(c, "site-b", "victim.txt")); err != nil || string(b) != "keep me\n" {
		t.Errorf("victim.txt on site-b at the end: %q, %v; want it kept", b, err)
	}
}

// A host of a session (site-d, the test speaking the protocol as
// fakeAgent does) reads from another host only what a transfer of the
// session can need: not a path the session excludes, not peerlink's own
// area at the root, not a path of a session it is no host of; and, a host
// or not, it commands no agent.
func TestRogueHostReadsOnlyWhatTheSessionTakes(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	hosts := []string{"site-a", "site-b"}
	t.Cleanup(func() {
		for _, h := range hosts {
			_ = exec.Command("chattr", "-R", "-i", c.root(h)).Run()
		}
	})
	for _, h := range hosts {
		writeFile(t, c.root(h), "doc.txt", "shared\n", liveT0)
	}
	writeFile(t, c.root("site-a"), "notes.bak", "kept out of the session\n", liveT0)
	writeFile(t, c.root("site-a"), ".peerlink/protected/20260402T090000Z/old.txt", "a protected copy\n", liveT0)
	other := filepath.Join(c.dir, "roots", "other")
	writeFile(t, other, "private.txt", "another session's\n", liveT0)
	written := time.Now()
	procs := map[string]*proc{}
	for _, h := range hosts {
		procs[h] = c.startAgent(h)
	}
	d := fakeAgent(t, c, "site-d")
	c.createSession("s", append(hosts, "site-d"), "--exclude", "*.bak")
	c.mustCLI("session", "create", "t", "--host", "site-a="+other, "--host", "site-b="+c.root("site-b-t"))
	time.Sleep(time.Until(written.Add(settledAfter)))
	startClean(t, c, "s")
	startClean(t, c, "t")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	read := func(session, rel, root string) (broker.Incoming, error) {
		fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			t.Fatal(err)
		}
		return d.Request(ctx, "site-a", &wire.Read{Session: session, Path: rel, Length: int(fi.Size()), Size: fi.Size(),
			Mtime: fi.ModTime().UnixNano(), Raw: true}, nil)
	}
	if in, err := read("s", "doc.txt", c.root("site-a")); err != nil || string(in.Data) != "shared\n" {
		t.Errorf("site-d's read of doc.txt, in session s: %q, %v; want it served", in.Data, err)
	}
	for _, tc := range []struct{ session, rel, root string }{
		{"s", "notes.bak", c.root("site-a")},
		{"s", ".peerlink/protected/20260402T090000Z/old.txt", c.root("site-a")},
		{"t", "private.txt", other},
	} {
		in, err := read(tc.session, tc.rel, tc.root)
		var we *wire.Error
		if !errors.As(err, &we) || we.Kind != wire.KindPermission || !strings.Contains(we.Msg, "site-d") {
			t.Errorf("site-d's read of %s in session %s answered %s %q, %v; want a Fail of kind permission naming site-d", tc.rel, tc.session, in.Type, in.Data, err)
		}
	}
	_, err := d.Request(ctx, "site-b", &wire.Lock{Session: "s", Path: "doc.txt", Holder: "site-a"}, nil)
	var we *wire.Error
	if !errors.As(err, &we) || we.Kind != wire.KindPermission || !strings.Contains(we.Msg, "site-d") {
		t.Errorf("site-d's lock of doc.txt on site-b: %v; want a Fail of kind permission naming site-d", err)
	}
	if isImmutable(t, livePath(c, "site-b", "doc.txt")) {
		t.Errorf("doc.txt on site-b is immutable after site-d's lock")
	}
	if n := len(logLines(t, procs["site-a"], "read refused")); n != 3 {
		t.Errorf("site-a's log has %d warnings of refused reads, want 3:\n%s", n, procs["site-a"].logTail(20))
	}
}
