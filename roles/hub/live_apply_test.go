package hub

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// hubClient starts a broker on a free port and returns the hub's
// connection to it; no agent connects.
func hubClient(t *testing.T) *broker.Client {
	t.Helper()
	const token = "test-token"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- broker.NewServer(token, zerolog.Nop()).Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	hello := wire.Hello{Role: wire.RoleHub, Name: wire.HubName, Protocol: wire.ProtocolVersion, Token: token}
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	c, err := broker.Dial(dctx, "ws://"+ln.Addr().String()+"/ws", hello, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// applyChanges reports the failures both of the targets it cannot reach
// (the hub thinks them disconnected) and of those whose apply fails (the
// hub thinks them connected, the broker does not reach them): the first in
// its loop, the second in the goroutines it starts in that loop, on the
// same slice. Run with -race: each write to it must be under its mutex.
func TestApplyChangesMarksEveryFailedTarget(t *testing.T) {
	r := graceRun(t, 0)
	c := hubClient(t)
	hosts := []string{"site-b", "site-c", "site-d", "site-e", "site-f", "site-g"}
	for i, h := range hosts {
		r.h.agents[h] = &api.Agent{Name: h, Connected: i%2 == 0}
	}
	e := wire.Entry{Path: "a.txt", Kind: wire.KindFile, Size: 1, Mode: 0o644, Mtime: 1}
	ops := map[string][]wire.Op{}
	for _, h := range hosts {
		ops[h] = []wire.Op{{Kind: wire.OpFetch, Path: "a.txt", From: "site-a", Want: e}}
	}
	for range 5 { // the targets come in another order each time
		ok, failures := r.applyChanges(context.Background(), c, ops)
		if len(ok) != 0 {
			t.Errorf("applied %v, want nothing", ok)
		}
		var got []string
		for _, f := range failures {
			got = append(got, f.host)
		}
		slices.Sort(got)
		got = slices.Compact(got)
		if !slices.Equal(got, hosts) {
			t.Errorf("failed %v, want every target %v", got, hosts)
		}
	}
}
