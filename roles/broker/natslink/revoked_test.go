package natslink

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/wire"
)

// An agent revoked while connected: the hub takes it for gone within a
// beat, though the NATS server still admits its key, and drops what it
// sends (counted); another agent's frames still arrive. WriteRevoked and
// LoadRevoked keep the list for nats-config.
func TestRevokedAgentIsRefusedByTheHub(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	revoked, stats := &Revoked{}, &Stats{}
	kp, err := KeyFor(f.secret, wire.HubName)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hub, err := Dial(ctx, Options{URL: f.url, Hello: wire.Hello{Role: wire.RoleHub, Name: wire.HubName, Version: "test"}, Key: kp,
		Log: zerolog.Nop(), Stats: stats, Revoked: revoked, t: testTiming})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	a := f.dial(t, "site-a")
	if p, ok := next(t, hub).Msg.(*wire.Peer); !ok || p.Name != "site-a" || !p.Up {
		t.Fatalf("hub got %+v, want site-a up", p)
	}

	revoked.Set([]string{"site-a"})
	if p, ok := next(t, hub).Msg.(*wire.Peer); !ok || p.Name != "site-a" || p.Up {
		t.Fatalf("hub got %+v after revoking site-a, want site-a down", p)
	}
	before := stats.Metrics().Dropped
	if err := a.Send(ctx, wire.HubName, &wire.OK{}, []byte("from the revoked")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the hub to drop site-a's frame", func() bool { return stats.Metrics().Dropped > before })
	b := f.dial(t, "site-b")
	if err := b.Send(ctx, wire.HubName, &wire.OK{}, []byte("from site-b")); err != nil {
		t.Fatal(err)
	}
	var got []broker.Incoming
	for len(got) < 2 {
		got = append(got, next(t, hub))
	}
	if p, ok := got[0].Msg.(*wire.Peer); !ok || p.Name != "site-b" || !p.Up || got[1].From != "site-b" || string(got[1].Data) != "from site-b" {
		t.Fatalf("hub got %+v then %s from %q (%q); want site-b up, then its frame", got[0].Msg, got[1].Type, got[1].From, got[1].Data)
	}

	dir := t.TempDir()
	if names, err := LoadRevoked(dir); err != nil || len(names) != 0 {
		t.Fatalf("LoadRevoked before any was written: %v, %v", names, err)
	}
	if err := WriteRevoked(dir, []string{"site-c", "site-a"}); err != nil {
		t.Fatal(err)
	}
	if names, err := LoadRevoked(dir); err != nil || !slices.Equal(names, []string{"site-a", "site-c"}) {
		t.Fatalf("LoadRevoked = %v, %v; want site-a, site-c", names, err)
	}
}
