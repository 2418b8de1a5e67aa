package wanlink

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// serve accepts connections on 127.0.0.1 and hands each to handle, until
// the test ends.
func serve(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); handle(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

func echo(c net.Conn) { io.Copy(c, c) }

func start(t *testing.T, upstream string, s Shape) *Link {
	t.Helper()
	l, err := Start(upstream, s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// roundTrip writes one byte through c and reads the echo, returning how
// long it took.
func roundTrip(t *testing.T, c net.Conn) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := c.Write([]byte{'x'}); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

func TestBytesAreCountedExactlyInEachDirection(t *testing.T) {
	const sent, answered = 300_001, 70_003
	upstream := serve(t, func(c net.Conn) {
		// Toxiproxy has no half close: the upstream reads what it knows
		// is coming, answers and closes.
		if _, err := io.ReadFull(c, make([]byte, sent)); err != nil {
			t.Errorf("upstream: %v", err)
		}
		c.Write(bytes.Repeat([]byte{'a'}, answered))
	})
	l := start(t, upstream, Shape{RTT: 2 * time.Millisecond, Rate: 50e6})
	for range 2 { // two connections: the link counts them all
		c, err := net.Dial("tcp", l.Addr())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write(bytes.Repeat([]byte{'q'}, sent)); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || len(got) != answered {
			t.Fatalf("read %d bytes through the link (%v), want %d", len(got), err, answered)
		}
	}
	// The upstream read every byte before it answered, and the client read
	// the whole answer: everything has passed the counters.
	if up, down := l.Bytes(); up != 2*sent || down != 2*answered {
		t.Errorf("Bytes() = %d up, %d down; want %d, %d", up, down, 2*sent, 2*answered)
	}
}

// The delays are lower bounds the link must add; nothing here bounds how
// slow the machine may be.
func TestLatencyAndRateDelayTheBytes(t *testing.T) {
	l := start(t, serve(t, echo), Shape{})
	c, err := net.Dial("tcp", l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip(t, c)
	const rtt = 120 * time.Millisecond
	if err := l.Reshape(Shape{RTT: rtt}); err != nil {
		t.Fatal(err)
	}
	if got := l.Shape().RTT; got != rtt {
		t.Errorf("Shape().RTT = %s after Reshape, want %s", got, rtt)
	}
	// The open connection takes the new shape, as new ones do.
	if d := roundTrip(t, c); d < rtt {
		t.Errorf("a round trip on the open connection took %s, want at least the link's %s", d, rtt)
	}
	c2, err := net.Dial("tcp", l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if d := roundTrip(t, c2); d < rtt {
		t.Errorf("a round trip on a new connection took %s, want at least the link's %s", d, rtt)
	}

	const rate, size = 40_000, 40_000 // one second's worth, each way
	if err := l.Reshape(Shape{Rate: rate}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	go c2.Write(bytes.Repeat([]byte{'r'}, size))
	if _, err := io.ReadFull(c2, make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	// Paced at the rate both ways: at least the time one way takes, less
	// the rounding of Toxiproxy's sleeps.
	if d, min := time.Since(start), 900*time.Millisecond; d < min {
		t.Errorf("%d bytes at %d B/s came back in %s, want at least %s", size, rate, d, min)
	}
}

func TestCutClosesConnectionsAndRefusesNewOnesUntilRestored(t *testing.T) {
	l := start(t, serve(t, echo), Shape{RTT: 2 * time.Millisecond})
	c, err := net.Dial("tcp", l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip(t, c)
	l.Cut()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("read on a connection of a cut link: %d bytes, %v; want it closed", n, err)
	}
	if c2, err := net.Dial("tcp", l.Addr()); err == nil {
		c2.Close()
		t.Fatal("dialled a cut link")
	}
	if err := l.Restore(); err != nil {
		t.Fatal(err)
	}
	c3, err := net.Dial("tcp", l.Addr())
	if err != nil {
		t.Fatalf("dial the restored link: %v", err)
	}
	defer c3.Close()
	roundTrip(t, c3)
	if got := l.Shape().RTT; got != 2*time.Millisecond {
		t.Errorf("restored link's RTT = %s, want the shape it had", got)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func TestResetAfterEndsConnectionsMidStreamUntilHealed(t *testing.T) {
	const total, allowed = 300_000, 70_001
	upstream := serve(t, func(c net.Conn) {
		c.Write(bytes.Repeat([]byte{'d'}, total))
	})
	l := start(t, upstream, Shape{RTT: 2 * time.Millisecond})
	readAll := func() int {
		t.Helper()
		c, err := net.Dial("tcp", l.Addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		n, err := io.Copy(io.Discard, c)
		if isTimeout(err) {
			t.Fatalf("read %d bytes, then the connection stayed open", n)
		}
		return int(n)
	}
	if err := l.ResetAfter(allowed); err != nil {
		t.Fatal(err)
	}
	// The connection is ended once the allowance is used, mid-stream.
	if n := readAll(); n != allowed {
		t.Errorf("read %d bytes through a link reset after %d, want exactly %d", n, allowed, allowed)
	}
	if n := l.Resets(); n != 1 {
		t.Errorf("Resets() = %d after one connection was reset, want 1", n)
	}
	// Until healed, a new connection is ended at its first byte.
	if n := readAll(); n != 0 {
		t.Errorf("read %d bytes on a new connection of an armed link with no allowance left, want 0", n)
	}
	if n := l.Resets(); n != 2 {
		t.Errorf("Resets() = %d after two connections were reset, want 2", n)
	}
	if err := l.Heal(); err != nil {
		t.Fatal(err)
	}
	if n := readAll(); n != total {
		t.Errorf("read %d bytes through the healed link, want all %d", n, total)
	}
	if n := l.Resets(); n != 2 {
		t.Errorf("Resets() = %d after healing, want the 2 of before", n)
	}
	// Armed again, the link starts a new allowance; the bytes that went
	// down before do not count against it.
	if err := l.ResetAfter(total + 1); err != nil {
		t.Fatal(err)
	}
	if n := readAll(); n != total {
		t.Errorf("read %d bytes with an allowance above the stream's %d, want all of it", n, total)
	}
	if n := l.Resets(); n != 0 {
		t.Errorf("Resets() = %d on a link armed again that reset nothing, want 0", n)
	}
}
