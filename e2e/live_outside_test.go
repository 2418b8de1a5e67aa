//go:build linux

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"testing"
	"time"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/wire"
)

// fakeAgent connects to the broker as the agent name and answers what the
// hub asks of a host of a session as an agent with an empty root would:
// attached, nothing found, every op applied. It stops with the test.
func fakeAgent(t *testing.T, c *cluster, name string) *broker.Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	d, err := c.dialPeer(ctx, wire.Hello{Role: wire.RoleAgent, Name: name, Protocol: wire.ProtocolVersion})
	if err != nil {
		cancel()
		t.Fatalf("connect as %s: %v", name, err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); d.Close(); <-done })
	go func() {
		defer close(done)
		for {
			var in broker.Incoming
			select {
			case in = <-d.Incoming():
			case <-d.Done():
				return
			}
			if in.ID == 0 {
				continue
			}
			var reply wire.Message = &wire.OK{}
			switch m := in.Msg.(type) {
			case *wire.Scan:
				reply = &wire.ScanPart{Session: m.Session, Done: true}
			case *wire.Apply:
				res := make([]wire.OpResult, len(m.Ops))
				for i, op := range m.Ops {
					res[i] = wire.OpResult{Kind: op.Kind, Path: op.Path}
					if op.Kind != wire.OpDelete {
						res[i].Entry = op.Want
					}
				}
				reply = &wire.Applied{Session: m.Session, Results: res, Done: true}
			case *wire.Read, *wire.ReadMany:
				reply = &wire.Fail{Error: wire.Error{Kind: wire.KindNotFound, Msg: "the fake agent has no files"}}
			}
			_ = d.Reply(ctx, in, reply, nil)
		}
	}()
	return d
}

// A host of the session reports, over the wire, what no agent of the
// session would: a write-open, a close and changes of paths its filter
// excludes (session --exclude, and the default filter's protected area). No
// real agent sends those (their watchers apply the same filter), so the
// fourth host of the session, site-d, is the test speaking the protocol.
// Each is refused and logged by the hub, and nothing of it happens on the
// three real hosts: no lock, no folder, no rename out of the watch set, no
// mode change; the changes of the same message that are inside the watch
// set are applied.
func TestLiveOutsidePathRefused(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	for _, h := range threeHosts {
		writeFile(t, c.root(h), "keep.txt", "keep\n", liveT0)
		writeFile(t, c.root(h), "notes.bak", "notes kept out of the session\n", liveT0) // excluded
	}
	written := time.Now()
	for _, h := range threeHosts {
		c.startAgent(h)
	}
	d := fakeAgent(t, c, "site-d")
	c.createSession("op", append(threeHosts, "site-d"), "--exclude", "*.bak", "--exclude", "build/")
	time.Sleep(time.Until(written.Add(settledAfter)))
	startClean(t, c, "op")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, p := range []string{"notes.bak", ".peerlink/protected/keep.txt", "build/out.txt"} {
		_, err := d.Request(ctx, wire.HubName, &wire.Opened{Session: "op", Path: p, User: "mallory"}, nil)
		var we *wire.Error
		if !errors.As(err, &we) || we.Kind != wire.KindInvalid {
			t.Errorf("write-open of %s, outside the watch set, answered %v; want it refused as invalid", p, err)
		}
	}
	if l := locks(t, c, "op"); len(l) != 0 {
		t.Errorf("lock table after the write-opens outside the watch set: %+v, want empty", l)
	}
	mode := wire.Entry{Kind: wire.KindFile, Size: 10, Mode: 0o600, Mtime: liveT0.UnixNano()}
	at := func(e wire.Entry, p string) wire.Entry { e.Path = p; return e }
	dir := wire.Entry{Kind: wire.KindDir, Mode: 0o755, Mtime: liveT0.UnixNano()}
	kept := wire.Entry{Kind: wire.KindFile, Size: 5, Mode: 0o644, Mtime: liveT0.UnixNano()}
	if err := d.Send(ctx, wire.HubName, &wire.Closed{Session: "op", Path: "notes.bak", Entry: ptr(at(mode, "notes.bak"))}, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.Send(ctx, wire.HubName, &wire.Changes{Session: "op", Changes: []wire.Change{
		{Kind: wire.ChangeMkdir, Path: "build", Entry: at(dir, "build")},
		{Kind: wire.ChangeMkdir, Path: "build/sub", Entry: at(dir, "build/sub")},
		{Kind: wire.ChangeMeta, Path: "notes.bak", Entry: at(mode, "notes.bak")},
		{Kind: wire.ChangeRename, OldPath: "keep.txt", Path: "keep.bak", Entry: at(kept, "keep.bak")},
		{Kind: wire.ChangeRename, OldPath: "notes.bak", Path: "notes.txt", Entry: at(mode, "notes.txt")},
		{Kind: wire.ChangeMkdir, Path: ".peerlink/evil", Entry: at(dir, ".peerlink/evil")},
		{Kind: wire.ChangeMkdir, Path: "fromd", Entry: at(dir, "fromd")}, // inside: applied
	}}, nil); err != nil {
		t.Fatal(err)
	}
	for _, h := range threeHosts {
		waitFor(t, liveWait, "site-d's folder inside the watch set on "+h, func() bool {
			fi, err := os.Stat(livePath(c, h, "fromd"))
			return err == nil && fi.IsDir()
		})
	}
	for _, h := range threeHosts {
		for _, p := range []string{"build", "keep.bak", "notes.txt", ".peerlink/evil"} {
			if _, err := os.Lstat(livePath(c, h, p)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("%s exists on %s (%v): a change outside the watch set was applied", p, h, err)
			}
		}
		if got := readFile(t, c.root(h), "keep.txt"); got != "keep\n" {
			t.Errorf("keep.txt on %s holds %q", h, got)
		}
		if got := permOf(t, c, h, "notes.bak"); got != 0o644 {
			t.Errorf("notes.bak on %s has mode %o, want 644 untouched", h, got)
		}
	}

	// Each refusal is logged with the sender and the path.
	want := map[string]bool{"notes.bak": false, ".peerlink/protected/keep.txt": false, "build/out.txt": false,
		"build": false, "build/sub": false, "keep.bak": false, ".peerlink/evil": false}
	waitFor(t, liveWait, "the hub to log each refusal naming site-d and the path", func() bool {
		b, err := os.ReadFile(c.proc("hub").log)
		if err != nil {
			t.Fatal(err)
		}
		for line := range bytes.Lines(b) {
			var l struct{ Level, Message, From, Path string }
			if json.Unmarshal(line, &l) == nil && l.Level == "warn" && l.From == "site-d" && l.Message == "live message about a path outside the session refused" {
				if _, ok := want[l.Path]; ok {
					want[l.Path] = true
				}
			}
		}
		for _, seen := range want {
			if !seen {
				return false
			}
		}
		return true
	})

	// The live loop goes on.
	writeFile(t, c.root("site-a"), "after.txt", "after\n", time.Time{})
	converged(t, c, liveWait, "site-a's change after the refusals", func(tr map[string]node) bool {
		_, after := tr["after.txt"]
		_, keep := tr["keep.txt"]
		return after && keep
	})
}

func ptr[T any](v T) *T { return &v }
