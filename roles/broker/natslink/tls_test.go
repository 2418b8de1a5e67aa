package natslink

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/web/certs"
	"github.com/peerlink/peerlink/wire"
)

// privateCA makes a CA in dir, as a hub makes its own, and a server
// configuration for 127.0.0.1 that it signed; it returns the CA's file.
func privateCA(t *testing.T, dir string) (caFile string, server *tls.Config) {
	t.Helper()
	ca, _, err := certs.LoadOrCreateAuthority(dir)
	if err != nil {
		t.Fatal(err)
	}
	server, err = ca.ServerConfig(dir, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	return certs.CAFile(dir), server
}

// A NATS server that requires TLS, with a certificate of a private CA: a
// peer given that CA (the agent's --ca) connects by a tls:// URL; without
// the CA the dial fails as untrusted and says to give --ca; by a nats://
// URL, where the CA is not used, it says to write tls://.
func TestTLSWithPrivateCA(t *testing.T) {
	t.Parallel()
	ca, server := privateCA(t, t.TempDir())
	f := newTLSFixture(t, "", server)
	conf, err := certs.Client(ca)
	if err != nil {
		t.Fatal(err)
	}
	tlsURL := strings.Replace(f.url, "nats://", "tls://", 1)
	dial := func(name, url string, conf *tls.Config) (*broker.Client, error) {
		role := wire.RoleAgent
		if name == wire.HubName {
			role = wire.RoleHub
		}
		kp, _ := KeyFor(f.secret, name)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := Dial(ctx, Options{URL: url, Hello: wire.Hello{Role: role, Name: name, Version: "test"}, Key: kp, TLS: conf, Log: zerolog.Nop(), t: testTiming})
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
		return c, err
	}
	hub, err := dial(wire.HubName, tlsURL, conf)
	if err != nil {
		t.Fatalf("the hub over %s with the CA: %v", tlsURL, err)
	}
	a, err := dial("site-a", tlsURL, conf)
	if err != nil {
		t.Fatalf("site-a over %s with the CA: %v", tlsURL, err)
	}
	if p, ok := next(t, hub).Msg.(*wire.Peer); !ok || p.Name != "site-a" || !p.Up {
		t.Fatalf("hub got %+v, want site-a up", p)
	}
	go func() {
		in := next(t, a)
		_ = a.Reply(context.Background(), in, &wire.OK{}, []byte("over TLS"))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r, err := hub.Request(ctx, "site-a", &wire.OK{}, nil); err != nil || string(r.Data) != "over TLS" {
		t.Fatalf("request over TLS: %v %q", err, r.Data)
	}

	system, err := certs.Client("")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*tls.Config{nil, system} {
		_, err = dial("site-b", tlsURL, c)
		if !errors.Is(err, broker.ErrUntrusted) || !strings.Contains(err.Error(), "--ca") {
			t.Errorf("site-b without the CA: %v, want untrusted, saying --ca", err)
		}
	}
	if _, err = dial("site-b", f.url, conf); !errors.Is(err, broker.ErrUntrusted) || !strings.Contains(err.Error(), "tls://") {
		t.Errorf("site-b by %s: %v, want untrusted, saying to write tls://", f.url, err)
	}
}
