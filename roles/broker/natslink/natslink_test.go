package natslink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/testkit/natstest"
	"github.com/peerlink/peerlink/testkit/ports"
	"github.com/peerlink/peerlink/wire"
)

var testTiming = timing{beat: 200 * time.Millisecond, expire: 2 * time.Second, settle: 300 * time.Millisecond, answerGap: 50 * time.Millisecond, ping: 5 * time.Second, bye: time.Second}

// fixture is a NATS server in this process admitting the users that
// WriteConfig wrote for agents site-a and site-b.
type fixture struct {
	srv    *natstest.Server
	url    string
	secret []byte
	dir    string
}

// newFixture starts the fixture's server with extra configuration.
func newFixture(t *testing.T, extra string) *fixture {
	t.Helper()
	return newTLSFixture(t, extra, nil)
}

// newTLSFixture starts the fixture's server requiring TLS with conf,
// when conf is not nil.
func newTLSFixture(t *testing.T, extra string, conf *tls.Config) *fixture {
	t.Helper()
	dir := t.TempDir()
	secret, err := LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := WriteConfig(secret, filepath.Join(dir, "out"), []string{"site-a", "site-b"}); err != nil {
		t.Fatal(err)
	}
	srv := natstest.Start(t, dir, extra+"\ninclude \"out/peerlink-users.conf\"\n", conf)
	return &fixture{srv: srv, url: srv.URL, secret: secret, dir: dir}
}

func (f *fixture) dial(t *testing.T, name string) *broker.Client {
	t.Helper()
	c, err := f.try(name)
	if err != nil {
		t.Fatalf("dial %s: %v", name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (f *fixture) try(name string) (*broker.Client, error) {
	role := wire.RoleAgent
	if name == wire.HubName {
		role = wire.RoleHub
	}
	kp, err := KeyFor(f.secret, name)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return Dial(ctx, Options{URL: f.url, Hello: wire.Hello{Role: role, Name: name, Version: "test"}, Key: kp, Log: zerolog.Nop(), t: testTiming})
}

// next returns the next Incoming of c within a deadline.
func next(t *testing.T, c *broker.Client) broker.Incoming {
	t.Helper()
	select {
	case in := <-c.Incoming():
		return in
	case <-c.Done():
		t.Fatalf("%s's link ended: %v", c.Name(), c.Err())
	case <-time.After(10 * time.Second):
		t.Fatalf("%s received nothing", c.Name())
	}
	return broker.Incoming{}
}

// The hub hears of an agent when it connects and when it goes; requests
// and replies cross with From set to the authenticated sender; a frame
// larger than the server's max_payload arrives whole.
func TestHubAndAgentExchangeFrames(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "max_payload: 65536")
	hub := f.dial(t, wire.HubName)
	a := f.dial(t, "site-a")
	in := next(t, hub)
	if p, ok := in.Msg.(*wire.Peer); !ok || !p.Up || p.Name != "site-a" || p.Version != "test" || in.From != broker.FromBroker {
		t.Fatalf("hub got %+v from %q, want site-a up from the broker", in.Msg, in.From)
	}
	big := make([]byte, 300<<10)
	for i := range big {
		big[i] = byte(i * 7)
	}
	go func() {
		in := next(t, a)
		if in.From != wire.HubName {
			t.Errorf("site-a got a request from %q, want hub", in.From)
		}
		if err := a.Reply(context.Background(), in, &wire.OK{}, append([]byte("echo:"), in.Data...)); err != nil {
			t.Errorf("reply: %v", err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := hub.Request(ctx, "site-a", &wire.OK{}, big)
	if err != nil {
		t.Fatal(err)
	}
	if r.From != "site-a" || string(r.Data[:5]) != "echo:" || string(r.Data[5:]) != string(big) {
		t.Fatalf("reply from %q of %d bytes, want site-a's echo of %d", r.From, len(r.Data), len(big))
	}
	if _, err := hub.Request(ctx, "site-z", &wire.OK{}, nil); !isKind(err, wire.KindUnreachable) {
		t.Errorf("a request to an agent never connected: %v, want unreachable", err)
	}
	a.Close()
	in = next(t, hub)
	if p, ok := in.Msg.(*wire.Peer); !ok || p.Up || p.Name != "site-a" {
		t.Fatalf("hub got %+v, want site-a down", in.Msg)
	}
}

func isKind(err error, k wire.ErrKind) bool {
	var we *wire.Error
	return errors.As(err, &we) && we.Kind == k
}

// An agent with its own NKey cannot publish as another, read another's
// frames or announce another; the NATS server refuses each, and the real
// agent hears nothing of it. A client with no key is refused at once.
func TestRogueCannotImpersonate(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	hub := f.dial(t, wire.HubName)
	b := f.dial(t, "site-b")
	if p, ok := next(t, hub).Msg.(*wire.Peer); !ok || p.Name != "site-b" {
		t.Fatalf("hub did not hear of site-b: %+v", p)
	}
	kp, _ := KeyFor(f.secret, "site-a")
	pub, _ := kp.PublicKey()
	errs := make(chan error, 16)
	nc, err := nats.Connect(f.url, nats.Nkey(pub, kp.Sign), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	forged, _ := wire.Marshal(wire.HubName, 0, 0, &wire.OK{}, nil)
	for _, subj := range []string{frameSubject(wire.HubName, "site-b", "0"), presenceSubject("site-b")} {
		if err := nc.Publish(subj, append([]byte{fragWhole}, forged...)); err != nil {
			t.Fatal(err)
		}
		if err := <-errs; !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), subj) {
			t.Errorf("publish to %s as site-a: %v, want a permissions violation", subj, err)
		}
	}
	if _, err := nc.Subscribe(inboxSubject("site-b"), func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; !errors.Is(err, nats.ErrPermissionViolation) {
		t.Errorf("subscribe to site-b's frames as site-a: %v, want a permissions violation", err)
	}
	// What did reach the hub: nothing from the forgeries. A request to
	// site-b still goes to the real one.
	go func() {
		in := next(t, b)
		_ = b.Reply(context.Background(), in, &wire.OK{}, []byte("real"))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := hub.Request(ctx, "site-b", &wire.OK{}, nil)
	if err != nil || string(r.Data) != "real" {
		t.Fatalf("request to site-b after the forgeries: %v %q", err, r.Data)
	}
	select {
	case in := <-hub.Incoming():
		t.Errorf("hub received %s from %q: a forgery got through", in.Type, in.From)
	default:
	}

	if _, err := nats.Connect(f.url); !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("a client without a key: %v, want an authorization violation", err)
	}
}

// An agent whose key is another's is refused the first time it speaks,
// with what to do; an agent whose key the server does not know, and a
// server that is down, give errors that say so.
func TestBadCredentialsAndDownServer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	other, _ := KeyFor([]byte("not the hub's secret, not the hub's secret!"), "site-a")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := Dial(ctx, Options{URL: f.url, Hello: wire.Hello{Role: wire.RoleAgent, Name: "site-a"}, Key: other, Log: zerolog.Nop(), t: testTiming})
	if err == nil || !strings.Contains(err.Error(), "refused the credentials of agent site-a") || !strings.Contains(err.Error(), "peerlink nats-config") {
		t.Errorf("unknown key: %v", err)
	}
	wrong, _ := KeyFor(f.secret, "site-b")
	_, err = Dial(ctx, Options{URL: f.url, Hello: wire.Hello{Role: wire.RoleAgent, Name: "site-a"}, Key: wrong, Log: zerolog.Nop(), t: testTiming})
	if !isKind(err, wire.KindPermission) || !strings.Contains(err.Error(), "is not site-a's") {
		t.Errorf("site-b's key for site-a: %v, want a permission error naming the key", err)
	}
	down := fmt.Sprintf("nats://127.0.0.1:%d", ports.Free(t))
	_, err = Dial(ctx, Options{URL: down, Hello: wire.Hello{Role: wire.RoleAgent, Name: "site-a"}, Log: zerolog.Nop(), t: testTiming})
	if err == nil || !strings.Contains(err.Error(), "unreachable") || !strings.Contains(err.Error(), "is the NATS cluster running") {
		t.Errorf("a server that is down: %v", err)
	}
}

// A second agent of the same name is refused; the first keeps running.
func TestSameNameTwice(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "")
	a := f.dial(t, "site-a")
	if _, err := f.try("site-a"); !isKind(err, wire.KindExists) {
		t.Fatalf("a second site-a: %v, want exists", err)
	}
	if a.Err() != nil {
		t.Fatalf("the first site-a ended: %v", a.Err())
	}
}
