package hub

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// The grace period's bookkeeping, without a broker: every host is
// disconnected, so releases only change the table and the event log (the
// end-to-end tests in e2e/live_fault_test.go cover the targets' files).

func graceRun(t *testing.T, grace time.Duration) *run {
	t.Helper()
	h, err := Open(Config{DataDir: t.TempDir(), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.db.Close() })
	for _, n := range []string{"site-a", "site-b", "site-c"} {
		h.agents[n] = &api.Agent{Name: n}
	}
	g := api.Duration(grace)
	cfg := api.SessionConfig{Name: "s", LockGrace: &g,
		Hosts: []api.HostRoot{{Host: "site-a", Root: "/a"}, {Host: "site-b", Root: "/b"}, {Host: "site-c", Root: "/c"}}}
	on := true
	cfg.TargetProtection = &on
	if err := h.db.PutSession(toStore(cfg)); err != nil {
		t.Fatal(err)
	}
	r := newRun(h, cfg, func() {})
	r.base = context.Background()
	t.Cleanup(r.events.close)
	return r
}

func (r *run) addLock(path, source string, targets ...string) {
	r.locks[path] = &heldLock{path: path, source: source, since: time.Now(), targets: targets,
		writers: map[string]bool{}, closed: map[string]*wire.Entry{}}
}

func releases(t *testing.T, r *run) []string {
	t.Helper()
	r.events.flush()
	evs, err := r.h.db.Events(r.cfg.Name, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if e.Kind == "release" {
			out = append(out, e.Path+": "+e.Msg)
		}
	}
	return out
}

func TestHoldLocksWithoutGraceReleasesAtOnce(t *testing.T) {
	r := graceRun(t, 0)
	r.addLock("doc.txt", "site-a", "site-b", "site-c")
	r.holdLocks()
	if len(r.locks) != 0 || len(r.lockList()) != 0 {
		t.Fatalf("lock table %v, view %v: want both empty", r.locks, r.lockList())
	}
	if got := releases(t, r); len(got) != 1 || got[0] != "doc.txt: source site-a disconnected; no grace period" {
		t.Errorf("release events %q, want one naming site-a", got)
	}
}

func TestHeldLocksExpireAfterTheGrace(t *testing.T) {
	const grace = 100 * time.Millisecond
	r := graceRun(t, grace)
	r.addLock("doc.txt", "site-a", "site-b", "site-c")
	held := time.Now()
	r.holdLocks()
	view := r.lockList()
	if len(view) != 1 || !view[0].Orphaned || view[0].Until.Before(held.Add(grace)) {
		t.Fatalf("view %+v: want the lock orphaned, held until the grace period ends", view)
	}
	if st := r.status(); st.Locks != 1 {
		t.Errorf("status counts %d locks, want the held one", st.Locks)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cause := &wire.Error{Kind: wire.KindUnreachable, Host: "site-a", Msg: "disconnected"}
	done := make(chan error, 1)
	go func() { done <- r.waitBack(ctx, cause) }()

	deadline := time.Now().Add(10 * time.Second)
	for len(releases(t, r)) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the held lock was not released after its grace period")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if time.Since(held) < grace {
		t.Errorf("released after %s, before the grace period of %s ended", time.Since(held), grace)
	}
	if got := releases(t, r); len(got) != 1 || got[0] != "doc.txt: source site-a disconnected; grace period 100ms over" {
		t.Errorf("release events %q", got)
	}
	if st := r.status(); !strings.Contains(st.Reason, "waiting for site-a, site-b, site-c, (the broker) to reconnect") {
		t.Errorf("status reason %q, want it to name whom it waits for", st.Reason)
	}

	// Every host back: the wait ends.
	r.h.mu.Lock()
	r.h.conn = &broker.Client{}
	for _, a := range r.h.agents {
		a.Connected = true
	}
	r.h.notifyLocked()
	r.h.mu.Unlock()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("waitBack: %v, want nil once every host is back", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("waitBack did not return once every host was back")
	}
}

func TestHeldLocksDroppedWhenTheHostsAttach(t *testing.T) {
	r := graceRun(t, time.Hour)
	r.addLock("a.txt", "site-a", "site-b", "site-c")
	r.addLock("b.txt", "site-b", "site-a") // a target went away: held too
	r.holdLocks()
	if view := r.lockList(); len(view) != 2 || view[0].Until.IsZero() || view[1].Until.IsZero() {
		t.Fatalf("view %+v: want both held", view)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.waitBack(ctx, errors.New("site-c: disconnected")) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("waitBack after a stop: %v, want context.Canceled", err)
	}
	if len(r.locks) != 2 {
		t.Fatalf("a stop of the wait released %d locks: that is the supervisor's to do", 2-len(r.locks))
	}
	r.dropHeld()
	if len(r.locks) != 0 || len(r.lockList()) != 0 {
		t.Errorf("after dropHeld: table %v, view %v; want empty", r.locks, r.lockList())
	}
	if got := releases(t, r); len(got) != 2 {
		t.Errorf("release events %q, want one per lock", got)
	}
}

// A second writer that closed its copy modified while the lock's source
// was away: when the source comes back and its lock is released for its
// catch-up, the path goes to the File Conflict List with the second
// writer's copy, rather than the two versions staying apart (make chaos,
// seed 4389); a second writer that closed unmodified, or a lock without
// one, quarantines nothing.
func TestSourceBackQuarantinesASecondWritersChange(t *testing.T) {
	r := graceRun(t, time.Minute)
	r.addLock("a/c/f1.txt", "site-b", "site-a", "site-c")
	l := r.locks["a/c/f1.txt"]
	l.writers["site-c"] = true
	v := wire.Entry{Path: "a/c/f1.txt", Kind: wire.KindFile, Size: 10, Mtime: time.Now().UnixNano(), Mode: 0o644}
	l.closed["site-c"] = &v
	r.addLock("quiet.txt", "site-b", "site-a")
	r.locks["quiet.txt"].closed["site-c"] = nil
	r.releaseSourced("site-b")
	qs, err := r.h.db.Quarantines("s")
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) != 1 || qs[0].Path != "a/c/f1.txt" || qs[0].Reason != conflict.ReasonConcurrentEdit ||
		len(qs[0].Copies) != 1 || qs[0].Copies[0].Host != "site-c" || qs[0].Copies[0].Entry != v {
		t.Fatalf("quarantined %+v, want a/c/f1.txt with site-c's copy", qs)
	}
	if len(r.locks) != 0 {
		t.Errorf("locks left: %v", r.locks)
	}
}

// A copy removed, or its mode changed, on a host as another host's write-
// open was locking it (make chaos, seed 12064) is no second writer whose
// close the lock would wait for: once the writer closes, the lock is
// settled, and the host lags on the path, holding what it left, for the
// repair to bring it the version the lock settled on. A new version
// written there is a second writer, as before.
func TestLockedCopyChangedIsNoSecondWriter(t *testing.T) {
	r := graceRun(t, time.Minute)
	r.lags = map[string]map[string]*lag{} // as the live loop starts
	for _, p := range []string{"removed.md", "chmod.md", "written.md"} {
		e := wire.Entry{Path: p, Kind: wire.KindFile, Size: 10, Mtime: 1_700_000_000, Mode: 0o644}
		putIndex(t, r, conflict.Record{Entry: e, Hosts: []string{"site-a", "site-b", "site-c"}})
		r.addLock(p, "site-a", "site-c")
	}
	meta := wire.Entry{Path: "chmod.md", Kind: wire.KindFile, Size: 10, Mtime: 1_700_000_000, Mode: 0o600}
	written := wire.Entry{Path: "written.md", Kind: wire.KindFile, Size: 11, Mtime: 1_700_000_100, Mode: 0o644}
	r.decide("site-b", []string{"site-a", "site-c"}, []wire.Change{
		{Kind: wire.ChangeRemove, Path: "removed.md"},
		{Kind: wire.ChangeMeta, Path: "chmod.md", Entry: meta},
		{Kind: wire.ChangeWrite, Path: "written.md", Entry: written},
	})
	for p, want := range map[string]*wire.Entry{"removed.md": nil, "chmod.md": &meta} {
		l := r.locks[p]
		if l.writers["site-b"] {
			t.Errorf("%s: site-b taken for a second writer", p)
		}
		l.closed["site-a"] = nil // the writer closes
		if l.open() {
			t.Errorf("%s: the lock still waits for a close after its writer's", p)
		}
		lg := r.lags[p]["site-b"]
		switch {
		case lg == nil:
			t.Errorf("%s: site-b does not lag on it", p)
		case (lg.have == nil) != (want == nil) || want != nil && *lg.have != *want:
			t.Errorf("%s: site-b's lag holds %v, want %v", p, lg.have, want)
		}
	}
	if l := r.locks["written.md"]; !l.writers["site-b"] || l.closed["site-b"] == nil || *l.closed["site-b"] != written {
		t.Errorf("written.md: site-b's new version not weighed as a second writer's: writers %v, closed %v", l.writers, l.closed)
	}
}
