package synthagent

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/wire"
)

const testToken = "synth-token"

// startBroker serves a real broker on 127.0.0.1 until the test ends.
func startBroker(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- broker.NewServer(testToken, zerolog.Nop()).Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("broker: %v", err)
		}
	})
	return "ws://" + ln.Addr().String() + "/ws"
}

// TestAgentAnswersTheHubAsAnAgentDoes runs a hub's side of a session's
// start against a synthetic agent over a real broker: attach, scan,
// apply, lock, and an Opened from the agent.
func TestAgentAnswersTheHubAsAnAgentDoes(t *testing.T) {
	url := startBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hub, err := broker.Dial(ctx, url, wire.Hello{Role: wire.RoleHub, Name: wire.HubName, Token: testToken}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	tree := Tree{Files: 5000, Seed: 3}
	var mu sync.Mutex
	var events []Event
	a, err := Dial(ctx, Config{Name: "site-a", BrokerURL: url, Token: testToken, Tree: tree, Log: zerolog.Nop(),
		Notify: func(ev Event) { mu.Lock(); events = append(events, ev); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- a.Serve(ctx) }()
	defer func() {
		a.Close()
		if err := <-served; err != nil && !errors.Is(err, broker.ErrClosed) {
			t.Errorf("Serve: %v", err)
		}
	}()

	in, err := hub.Request(ctx, "site-a", &wire.Attach{Session: "s", Root: "/synthetic", Hosts: []string{"site-a"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if at, ok := in.Msg.(*wire.Attached); !ok || at.Root.ID == "" {
		t.Fatalf("attach answered %s %+v, want an Attached with a root id", in.Type, in.Msg)
	}

	var want []wire.Entry
	if _, err := tree.Walk(0, func(b []wire.Entry) error { want = append(want, b...); return nil }); err != nil {
		t.Fatal(err)
	}
	got, done := scanAll(ctx, t, hub)
	if !slices.Equal(got, want) || done.Journal != 1 || done.Stats.Files != 5000 {
		t.Fatalf("scan: %d entries (want %d), done %+v", len(got), len(want), done)
	}

	op := wire.Op{Kind: wire.OpMkdir, Path: "new", Want: wire.Entry{Path: "new", Kind: wire.KindDir, Mode: 0o755}}
	s, err := hub.Call(ctx, "site-a", &wire.Apply{Session: "s", Ops: []wire.Op{op}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.Recv(ctx)
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	if ap, ok := rep.Msg.(*wire.Applied); !ok || !ap.Done || len(ap.Results) != 1 || ap.Results[0].Error != nil {
		t.Fatalf("apply answered %s %+v, want one result done", rep.Type, rep.Msg)
	}

	if _, err := hub.Request(ctx, "site-a", &wire.Lock{Session: "s", Path: "x", Holder: "site-b"}, nil); err != nil {
		t.Fatalf("lock: %v", err)
	}
	mu.Lock()
	var types []wire.Type
	for _, ev := range events {
		types = append(types, ev.Type)
	}
	mu.Unlock()
	if !slices.Equal(types, []wire.Type{wire.TypeScan, wire.TypeScanPart, wire.TypeLock}) {
		t.Errorf("events %v, want scan, scan.part, lock", types)
	}

	// The hub answers an Opened: the agent's call returns with it.
	answered := make(chan struct{})
	go func() {
		defer close(answered)
		for {
			select {
			case in := <-hub.Incoming():
				if _, ok := in.Msg.(*wire.Opened); ok { // not a Peer
					hub.Reply(ctx, in, &wire.OK{}, nil)
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	err = a.Opened(ctx, "s", "x")
	<-answered
	if err != nil {
		t.Fatalf("opened: %v", err)
	}
}

func scanAll(ctx context.Context, t *testing.T, hub *broker.Client) ([]wire.Entry, *wire.ScanPart) {
	t.Helper()
	s, err := hub.Call(ctx, "site-a", &wire.Scan{Session: "s"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []wire.Entry
	for {
		in, err := s.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		part, ok := in.Msg.(*wire.ScanPart)
		if !ok {
			t.Fatalf("scan answered %s", in.Type)
		}
		got = append(got, part.Entries...)
		if part.Done {
			return got, part
		}
	}
}
