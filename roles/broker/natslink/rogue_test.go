package natslink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/wire"
)

// dialLink dials name with its key and timing t (zero: testTiming),
// counting in stats, and returns its link with the Client over it.
func (f *fixture) dialLink(t *testing.T, name string, tm timing, stats *Stats) (*broker.Client, *link) {
	t.Helper()
	role := wire.RoleAgent
	if name == wire.HubName {
		role = wire.RoleHub
	}
	if tm == (timing{}) {
		tm = testTiming
	}
	kp, err := KeyFor(f.secret, name)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := dialLink(ctx, Options{URL: f.url, Hello: wire.Hello{Role: role, Name: name, Version: "test"}, Key: kp, Log: zerolog.Nop(), Stats: stats, t: tm})
	if err != nil {
		t.Fatalf("dial %s: %v", name, err)
	}
	c := broker.NewClient(name, l, zerolog.Nop())
	t.Cleanup(func() { c.Close() })
	return c, l
}

// rogueConn connects with name's key, as a client that is not peerlink.
func (f *fixture) rogueConn(t *testing.T, name string) *nats.Conn {
	t.Helper()
	kp, err := KeyFor(f.secret, name)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	nc, err := nats.Connect(f.url, nats.Nkey(pub, kp.Sign))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A client holding site-a's key sends the hub fragments of a frame from
// fifty connections that each die mid-frame, a frame in fragments larger
// than a frame can be, fragments out of order, a message of no known
// format, an empty one, a frame that is no frame and a Peer notice only
// the broker may send: the hub holds one partial frame for site-a at
// most, delivers none of it, and goes on working with site-b.
func TestRogueFramesToTheHub(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "max_payload: 65536")
	stats := &Stats{}
	hub, hl := f.dialLink(t, wire.HubName, timing{}, stats)
	b := f.dial(t, "site-b")
	if p, ok := next(t, hub).Msg.(*wire.Peer); !ok || p.Name != "site-b" {
		t.Fatalf("hub did not hear of site-b: %+v", p)
	}
	nc := f.rogueConn(t, "site-a")
	pub := func(inst string, mark byte, data []byte) {
		t.Helper()
		if err := nc.Publish(frameSubject(wire.HubName, "site-a", inst), append([]byte{mark}, data...)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 50 {
		pub(fmt.Sprint("dead", i), fragMore, make([]byte, 10<<10))
	}
	waitFor(t, "the hub to take the dead connections' fragments", func() bool { return stats.Metrics().Dropped >= 49 })
	if m := stats.Metrics(); m.Assembling != 1 || m.AssemblingBytes != 10<<10 {
		t.Fatalf("after 50 connections died mid-frame the hub holds %d partial frames of %d bytes, want one of 10 KiB", m.Assembling, m.AssemblingBytes)
	}
	before := stats.Metrics().Dropped
	chunk := make([]byte, 60<<10)
	for range wire.MaxFrame/len(chunk) + 20 {
		pub("big", fragMore, chunk)
	}
	pub("big", fragLast, []byte("end"))
	peer, _ := wire.Marshal(wire.HubName, 0, 0, &wire.Peer{Name: "site-b", Up: false}, nil)
	for _, m := range []struct {
		mark byte
		data []byte
	}{{fragLast, []byte("tail without head")}, {9, []byte("what")}, {fragWhole, nil}, {fragWhole, []byte("no frame")}, {fragWhole, peer}} {
		pub("x", m.mark, m.data)
	}
	nc.Publish(frameSubject(wire.HubName, "site-a", "x"), nil)
	ok, _ := wire.Marshal(wire.HubName, 0, 0, &wire.OK{}, []byte("sentinel"))
	pub("x", fragWhole, ok)

	// site-a is heard of by its first whole frame, which is the sentinel.
	if p, ok := next(t, hub).Msg.(*wire.Peer); !ok || p.Name != "site-a" || !p.Up {
		t.Fatalf("hub got %+v, want site-a up", p)
	}
	if in := next(t, hub); in.From != "site-a" || string(in.Data) != "sentinel" {
		t.Fatalf("hub got %s from %q (%q), want the sentinel from site-a", in.Type, in.From, in.Data)
	}
	m := stats.Metrics()
	if m.Assembling != 0 || m.AssemblingBytes != 0 {
		t.Errorf("the hub holds %d partial frames of %d bytes after the rogue's last whole frame", m.Assembling, m.AssemblingBytes)
	}
	if m.Dropped < before+7 {
		t.Errorf("%d messages counted dropped, want at least 7 more than %d", m.Dropped, before)
	}
	if hl.ctx.Err() != nil {
		t.Fatalf("the hub's link ended: %v", hl.Cause())
	}
	go func() {
		in := next(t, b)
		_ = b.Reply(context.Background(), in, &wire.OK{}, []byte("real"))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r, err := hub.Request(ctx, "site-b", &wire.OK{}, nil); err != nil || string(r.Data) != "real" {
		t.Fatalf("request to site-b after the rogue: %v %q", err, r.Data)
	}
}

// A client holding site-a's key asks "who is there" a thousand times:
// the hub answers once per answerGap, not once per question, and tells
// of site-a once.
func TestPresenceFloodAnsweredOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	slow := timing{beat: time.Hour, expire: 2 * time.Hour, settle: 300 * time.Millisecond, answerGap: time.Hour, ping: 5 * time.Second, bye: time.Second}
	stats := &Stats{}
	hub, hl := f.dialLink(t, wire.HubName, slow, stats)
	nc := f.rogueConn(t, "site-a")
	var answers atomic.Int64
	if _, err := nc.Subscribe(presenceSubject(wire.HubName), func(*nats.Msg) { answers.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	ask, _ := json.Marshal(presence{Role: wire.RoleAgent, Instance: "rogue", Protocol: wire.ProtocolVersion, Since: time.Now().UnixNano(), Up: true, Ask: true})
	for range 1000 {
		if err := nc.Publish(presenceSubject("site-a"), ask); err != nil {
			t.Fatal(err)
		}
	}
	// Presence from one client is taken in order: once the malformed one
	// is counted, the hub has taken every question.
	if err := nc.Publish(presenceSubject("site-a"), []byte("{")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the hub to take the questions and answer", func() bool { return stats.Metrics().Dropped == 1 && answers.Load() >= 1 })
	if err := hl.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := answers.Load(); n != 1 {
		t.Errorf("the hub answered 1000 questions %d times, want once", n)
	}
	if p, ok := next(t, hub).Msg.(*wire.Peer); !ok || p.Name != "site-a" || !p.Up {
		t.Fatalf("hub got %+v, want site-a up", p)
	}
	select {
	case in := <-hub.Incoming():
		t.Errorf("hub got %s %+v after site-a's up: one notice per instance", in.Type, in.Msg)
	default:
	}
}

// The hub restarts while agents stay connected to NATS: the new hub
// hears of them at once and reaches them, and they never noticed.
func TestHubRestartAgentsStay(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	hub1 := f.dial(t, wire.HubName)
	a := f.dial(t, "site-a")
	if p, ok := next(t, hub1).Msg.(*wire.Peer); !ok || p.Name != "site-a" {
		t.Fatalf("hub did not hear of site-a: %+v", p)
	}
	hub1.Close()
	hub2 := f.dial(t, wire.HubName)
	if p, ok := next(t, hub2).Msg.(*wire.Peer); !ok || p.Name != "site-a" || !p.Up {
		t.Fatalf("the new hub got %+v, want site-a up", p)
	}
	go func() {
		in := next(t, a)
		if in.From != wire.HubName {
			t.Errorf("site-a got %s from %q", in.Type, in.From)
		}
		_ = a.Reply(context.Background(), in, &wire.OK{}, []byte("still here"))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r, err := hub2.Request(ctx, "site-a", &wire.OK{}, nil); err != nil || string(r.Data) != "still here" {
		t.Fatalf("the new hub's request to site-a: %v %q", err, r.Data)
	}
	if a.Err() != nil {
		t.Errorf("site-a's link ended with the hub: %v", a.Err())
	}
}

// A NATS server that goes away mid-session ends the link at once, saying
// so, so the peer dials again (the hub and agent do, with back-off).
func TestServerGoneEndsTheLink(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	a := f.dial(t, "site-a")
	f.srv.Shutdown()
	select {
	case <-a.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("the link outlived its server")
	}
	if err := a.Err(); !errors.Is(err, errServerClosed) || strings.Contains(err.Error(), "%!") || !strings.Contains(err.Error(), f.url) {
		t.Errorf("the link ended with %v, want the server closed the connection, naming it", err)
	}
}

// Frames sent at once from several goroutines to one peer, each larger
// than max_payload, arrive whole and intact: one frame's fragments are
// never interleaved with another's on the subject they share.
func TestConcurrentFragmentedSends(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "max_payload: 65536")
	stats := &Stats{}
	hub, _ := f.dialLink(t, wire.HubName, timing{}, stats)
	a := f.dial(t, "site-a")
	if p, ok := next(t, hub).Msg.(*wire.Peer); !ok || p.Name != "site-a" {
		t.Fatalf("hub did not hear of site-a: %+v", p)
	}
	const senders, each = 8, 4
	errs := make(chan error, senders)
	for s := range senders {
		go func() {
			for i := range each {
				data := []byte(strings.Repeat(fmt.Sprintf("%d/%d;", s, i), 40<<10))
				if err := a.Send(context.Background(), wire.HubName, &wire.OK{}, data); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range senders {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]bool{}
	for range senders * each {
		in := next(t, hub)
		tag, _, _ := strings.Cut(string(in.Data), ";")
		if string(in.Data) != strings.Repeat(tag+";", 40<<10) {
			t.Fatalf("a frame arrived mixed with another: starts %q", in.Data[:40])
		}
		got[tag] = true
	}
	if len(got) != senders*each || stats.Metrics().Dropped != 0 {
		t.Errorf("%d distinct frames of %d arrived, %d messages dropped", len(got), senders*each, stats.Metrics().Dropped)
	}
}
