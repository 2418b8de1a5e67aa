package broker

import (
	"context"
	"errors"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/peerlink/peerlink/wire"
	"github.com/rs/zerolog"
)

const testToken = "s3cret-token"

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// noLeaks fails the test if goroutines started during it outlive it. Call
// it first, so its cleanup runs after every other.
func noLeaks(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				t.Errorf("%d goroutines before the test, %d after:\n%s", before, runtime.NumGoroutine(), buf[:n])
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
}

// bg is a context for one call of a test: long enough for any of them, short
// enough that a lost reply fails the test rather than hanging it.
func bg(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func testLog(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
}

type testBroker struct {
	*Server
	url    string
	cancel context.CancelFunc
	errc   chan error
}

// startBroker serves a broker on 127.0.0.1 at a port chosen now; tune may
// adjust its timing and limits first. It is stopped at cleanup.
func startBroker(t *testing.T, tune func(*Server)) *testBroker {
	t.Helper()
	s := NewServer(testToken, testLog(t))
	if tune != nil {
		tune(s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &testBroker{Server: s, url: "ws://" + ln.Addr().String() + "/ws", cancel: cancel, errc: make(chan error, 1)}
	go func() { b.errc <- s.Serve(ctx, ln) }()
	t.Cleanup(func() { b.stop(t) })
	return b
}

// stop cancels Serve and waits for it; it may be called more than once.
func (b *testBroker) stop(t *testing.T) {
	t.Helper()
	b.cancel()
	if err, ok := <-b.errc; ok {
		close(b.errc)
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	}
}

func (b *testBroker) connected(name string) bool {
	for _, p := range b.Peers() {
		if p.Name == name {
			return true
		}
	}
	return false
}

func agentHello(name string) wire.Hello {
	return wire.Hello{Role: wire.RoleAgent, Name: name, Protocol: wire.ProtocolVersion, Version: "test", Token: testToken}
}

func hubHello() wire.Hello {
	return wire.Hello{Role: wire.RoleHub, Name: wire.HubName, Protocol: wire.ProtocolVersion, Version: "test", Token: testToken}
}

// connect dials the broker as hello's peer; the client is closed at cleanup.
func connect(t *testing.T, b *testBroker, hello wire.Hello) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, b.url, hello, testLog(t))
	if err != nil {
		t.Fatalf("dial as %s: %v", hello.Name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawConnect completes the handshake by hand and returns the bare
// WebSocket, for peers that misbehave on purpose.
func rawConnect(t *testing.T, b *testBroker, hello wire.Hello) *websocket.Conn {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(b.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := handshake(context.Background(), conn, &hello, clientTiming); err != nil {
		t.Fatalf("raw handshake as %s: %v", hello.Name, err)
	}
	return conn
}

// rawFrame reads the next frame from a bare WebSocket.
func rawFrame(t *testing.T, conn *websocket.Conn) (wire.Frame, wire.Message) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("read frame: %v", err)
	}
	f, err := wire.DecodeFrame(b)
	if err != nil {
		t.Fatal(err)
	}
	m, err := wire.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return f, m
}

// next returns the next Incoming of c or fails after 10 s.
func next(t *testing.T, c *Client) Incoming {
	t.Helper()
	select {
	case in := <-c.Incoming():
		return in
	case <-c.Done():
		t.Fatalf("%s: connection ended: %v", c.Name(), c.Err())
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: nothing received in 10 s", c.Name())
	}
	panic("unreachable")
}

// serve answers every request c receives with answer, until cleanup.
func serve(t *testing.T, c *Client, answer func(in Incoming) (wire.Message, []byte)) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case in := <-c.Incoming():
				if in.ID == 0 {
					continue
				}
				m, data := answer(in)
				if err := c.Reply(ctx, in, m, data); err != nil && ctx.Err() == nil && !errors.Is(err, ErrClosed) {
					t.Errorf("reply: %v", err)
				}
			case <-c.Done():
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func readMsg(path string) *wire.Read {
	return &wire.Read{Session: "s1", Path: path, Length: 1}
}
