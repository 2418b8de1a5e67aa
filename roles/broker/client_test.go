package broker

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/peerlink/peerlink/wire"
)

func (b *testBroker) queue(name string) (frames, bytes, peakFrames, peakBytes int) {
	b.mu.Lock()
	p := b.peers[name]
	b.mu.Unlock()
	return p.link.out.stats()
}

func TestStreamOf1000RepliesInOrder(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	a := connect(t, b, agentHello("site-a"))
	c := connect(t, b, agentHello("site-b"))
	const n = 1000
	served := make(chan error, 1)
	go func() {
		in := next(t, a)
		for i := range n {
			part := &wire.ScanPart{Session: "s1", Stats: wire.ScanStats{Files: int64(i)}, Done: i == n-1}
			if err := a.Reply(bg(t), in, part, nil); err != nil {
				served <- err
				return
			}
		}
		served <- nil
	}()
	s, err := c.Call(bg(t), "site-a", &wire.Scan{Session: "s1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range n {
		in, err := s.Recv(bg(t))
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		part := in.Msg.(*wire.ScanPart)
		if part.Stats.Files != int64(i) || part.Done != (i == n-1) {
			t.Fatalf("reply %d is %+v", i, part)
		}
	}
	if err := <-served; err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := s.Recv(bg(t)); err == nil {
		t.Error("Recv after Close succeeded")
	}
}

func TestStreamFailEndsAsWireError(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	a := connect(t, b, agentHello("site-a"))
	c := connect(t, b, agentHello("site-b"))
	serve(t, a, func(Incoming) (wire.Message, []byte) {
		return &wire.Fail{Error: wire.Error{Kind: wire.KindNotFound, Op: "scan", Msg: "no root"}}, nil
	})
	s, err := c.Call(bg(t), "site-a", &wire.Scan{Session: "s1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Recv(bg(t))
	we, ok := err.(*wire.Error)
	if !ok || we.Kind != wire.KindNotFound || we.Error() != "site-a: scan: no root" {
		t.Fatalf("Recv = %v, want the Fail's error naming the host", err)
	}
}

func TestBackPressureBoundsTheBrokersQueue(t *testing.T) {
	noLeaks(t)
	lim := limits{frames: 4, bytes: 3 << 20}
	b := startBroker(t, func(s *Server) { s.lim = lim })
	rawConnect(t, b, agentHello("site-b")) // connected, never reads
	sender, err := dial(context.Background(), b.url, agentHello("site-a"), nil, testLog(t), clientTiming, limits{frames: 2, bytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()

	data := make([]byte, wire.ChunkSize)
	// full reports whether site-b's queue at the broker can take no more
	// of these frames: a sender blocked by back-pressure is blocked by
	// that. A Send that runs out of time while the queue can take more was
	// only slow (a loaded machine), not blocked, and is tried again: a
	// Send whose context ends before its frame is queued queues nothing.
	full := func() bool {
		frames, bytes, _, _ := b.queue("site-b")
		return frames >= lim.frames || bytes+len(data) > lim.bytes
	}
	accepted, blocked := 0, false
	// 300 MiB: far more than every buffer on the way. The deadline comes
	// before the broker drops site-b as idle (45 s).
	deadline := time.Now().Add(30 * time.Second)
	for accepted < 300 && !blocked {
		if time.Now().After(deadline) {
			t.Fatalf("after %d frames accepted, the sender stayed blocked for 30 s while site-b's queue at the broker could take more", accepted)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		err := sender.Send(ctx, "site-b", &wire.Progress{Session: "s1"}, data)
		cancel()
		switch {
		case err == nil:
			accepted++
		case errors.Is(err, context.DeadlineExceeded):
			blocked = full()
		default:
			t.Fatal(err)
		}
	}
	if !blocked {
		t.Fatal("300 MiB were accepted for a receiver that reads nothing")
	}
	frames, bytes, peakFrames, peakBytes := b.queue("site-b")
	t.Logf("queue for site-b: %d frames, %d bytes; peak %d frames, %d bytes; %d frames accepted", frames, bytes, peakFrames, peakBytes, accepted)
	if peakFrames > lim.frames || peakBytes > lim.bytes {
		t.Errorf("queue peaked at %d frames, %d bytes; limits are %d, %d", peakFrames, peakBytes, lim.frames, lim.bytes)
	}
}

func TestPeerThatDoesNotDrainIsDisconnected(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, func(s *Server) { s.t.write = 300 * time.Millisecond })
	rawConnect(t, b, agentHello("site-b")) // never reads
	sender := connect(t, b, agentHello("site-a"))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		data := make([]byte, wire.ChunkSize)
		for ctx.Err() == nil {
			sender.Send(ctx, "site-b", &wire.Progress{Session: "s1"}, data)
		}
	}()
	defer wg.Wait()
	defer cancel()
	waitFor(t, 20*time.Second, "site-b to be disconnected", func() bool { return !b.connected("site-b") })
	if !b.connected("site-a") {
		t.Error("the sender was disconnected too")
	}
}

func TestDialUnreachableSaysWhatToCheck(t *testing.T) {
	noLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = Dial(context.Background(), "ws://"+addr, agentHello("site-a"), testLog(t))
	want := "broker ws://" + addr + "/ws unreachable: connection refused: is the hub (or broker) running, and is the URL right?"
	if err == nil || err.Error() != want {
		t.Fatalf("Dial = %v\nwant %s", err, want)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Error("the cause is not reachable with errors.Is")
	}
}

func TestDialAcceptsURLForms(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	hostport := strings.TrimSuffix(strings.TrimPrefix(b.url, "ws://"), "/ws")
	for _, u := range []string{"ws://" + hostport, "ws://" + hostport + "/", "ws://" + hostport + "/ws", "http://" + hostport, hostport} {
		c, err := Dial(context.Background(), u, agentHello("site-a"), testLog(t))
		if err != nil {
			t.Fatalf("%s: %v", u, err)
		}
		c.Close()
		waitFor(t, 5*time.Second, "site-a to be gone", func() bool { return !b.connected("site-a") })
	}
	_, err := Dial(context.Background(), "ws://"+hostport+"/elsewhere", agentHello("site-a"), testLog(t))
	if err == nil || !strings.Contains(err.Error(), "answered HTTP 404") {
		t.Fatalf("wrong path: %v", err)
	}
}

func TestBrokerURL(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"ws://hub:61617", "ws://hub:61617/ws"},
		{"ws://hub:61617/ws", "ws://hub:61617/ws"},
		{"wss://hub:61617/", "wss://hub:61617/ws"},
		{"http://hub:61617", "ws://hub:61617/ws"},
		{"https://hub/proxy/ws", "wss://hub/proxy/ws"},
		{" hub:61617 ", "ws://hub:61617/ws"},
		{"ftp://hub", ""},
		{"ws://", ""},
	} {
		got, err := brokerURL(tt.in)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("brokerURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestInvalidHelloIsRefusedBeforeDialing(t *testing.T) {
	h := agentHello("hub")
	_, err := Dial(context.Background(), "ws://127.0.0.1:1", h, testLog(t))
	var we *wire.Error
	if !errors.As(err, &we) || we.Kind != wire.KindInvalid {
		t.Fatalf("Dial = %v", err)
	}
}

func TestRequestTimeoutThenLateReplyIsDropped(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	a := connect(t, b, agentHello("site-a"))
	c := connect(t, b, agentHello("site-b"))

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err := c.Request(ctx, "site-a", readMsg("slow"), nil)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Request = %v, want the deadline", err)
	}
	slow := next(t, a)
	if err := a.Reply(bg(t), slow, &wire.ReadData{N: 1}, []byte{1}); err != nil {
		t.Fatal(err)
	}
	serve(t, a, func(Incoming) (wire.Message, []byte) { return &wire.ReadData{N: 2}, []byte{2, 2} })
	in, err := c.Request(bg(t), "site-a", readMsg("fast"), nil)
	if err != nil || in.Msg.(*wire.ReadData).N != 2 {
		t.Fatalf("second request got %+v, %v", in.Msg, err)
	}
}

func TestCloseFailsPendingRequestsAndStreams(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	connect(t, b, agentHello("site-a")) // never answers
	c := connect(t, b, agentHello("site-b"))
	s, err := c.Call(bg(t), "site-a", &wire.Scan{Session: "s1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	errc := make(chan error, 2)
	go func() { _, err := c.Request(bg(t), "site-a", readMsg("x"), nil); errc <- err }()
	go func() { _, err := s.Recv(bg(t)); errc <- err }()
	waitFor(t, 5*time.Second, "both calls to be pending", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return len(c.calls) == 2
	})
	c.Close()
	for range 2 {
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Errorf("pending call: %v, want ErrClosed", err)
		}
	}
	if err := c.Send(bg(t), "site-a", &wire.Progress{Session: "s1"}, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
	if c.Err() != ErrClosed {
		t.Errorf("Err after Close: %v", c.Err())
	}
}

func TestUndecodableRequestIsAnsweredWithFail(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	raw := rawConnect(t, b, agentHello("site-a"))
	connect(t, b, agentHello("site-b"))
	body, _ := json.Marshal(&wire.Read{Session: "s1", Path: "../etc/passwd", Length: 1})
	frame, _ := wire.EncodeFrame(wire.Envelope{Type: wire.TypeRead, To: "site-b", ID: 7, Body: body}, nil)
	raw.WriteMessage(websocket.BinaryMessage, frame)
	f, m := rawFrame(t, raw)
	fail, ok := m.(*wire.Fail)
	if !ok || f.Reply != 7 || f.From != "site-b" || fail.Error.Kind != wire.KindInvalid {
		t.Fatalf("got %+v %+v", f.Envelope, m)
	}
}

func TestClientNoticesADeadBroker(t *testing.T) {
	noLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// A broker that welcomes, then neither reads nor writes again.
	var wg sync.WaitGroup
	release := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wg.Add(1)
		defer wg.Done()
		conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		conn.ReadMessage()
		b, _ := wire.Marshal("", 0, 0, &wire.Welcome{Protocol: wire.ProtocolVersion}, nil)
		conn.WriteMessage(websocket.BinaryMessage, b)
		<-release
	})}
	go srv.Serve(ln)
	defer func() { close(release); srv.Close(); wg.Wait() }()

	tm := timing{hello: 5 * time.Second, ping: 50 * time.Millisecond, idle: 300 * time.Millisecond, write: time.Second, close: 100 * time.Millisecond}
	c, err := dial(context.Background(), "ws://"+ln.Addr().String(), agentHello("site-a"), nil, testLog(t), tm, clientLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a silent broker went unnoticed")
	}
	var ne net.Error
	if !errors.Is(c.Err(), ErrClosed) || !errors.As(c.Err(), &ne) || !ne.Timeout() {
		t.Errorf("Err = %v, want ErrClosed and a timeout", c.Err())
	}
}

func TestBackoff(t *testing.T) {
	for attempt := -1; attempt < 70; attempt++ {
		base := 30 * time.Second
		if a := max(attempt, 0); a < 7 {
			base = 250 * time.Millisecond << a
		}
		for range 50 {
			d := Backoff(attempt)
			if d < base*8/10 || d > base*12/10 {
				t.Fatalf("Backoff(%d) = %v, want %v ±20%%", attempt, d, base)
			}
		}
	}
}

// A reply counts only from the peer the request went to: site-c, which
// sees (or guesses) the request's ID, answers first for site-b, and its
// answer is dropped; site-b's own is the one site-a gets.
func TestReplyFromAnotherPeerIsDropped(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	a := connect(t, b, agentHello("site-a"))
	real := connect(t, b, agentHello("site-b"))
	spoofer := rawConnect(t, b, agentHello("site-c"))

	type result struct {
		in  Incoming
		err error
	}
	got := make(chan result, 1)
	go func() {
		in, err := a.Request(bg(t), "site-b", readMsg("f"), nil)
		got <- result{in, err}
	}()
	req := next(t, real)
	fake, err := wire.Marshal("site-a", 0, req.ID, &wire.ReadData{N: 4}, []byte("fake"))
	if err != nil {
		t.Fatal(err)
	}
	// Then a notice: frames of one sender to one peer keep their order, so
	// once site-a has the notice it has dealt with the fake reply.
	notice, err := wire.Marshal("site-a", 0, 0, &wire.Progress{Session: "s1", Bytes: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range [][]byte{fake, notice} {
		if err := spoofer.WriteMessage(websocket.BinaryMessage, f); err != nil {
			t.Fatal(err)
		}
	}
	if in := next(t, a); in.From != "site-c" || in.Type != wire.TypeProgress {
		t.Fatalf("site-a got %s from %q, want site-c's notice", in.Type, in.From)
	}
	if err := real.Reply(bg(t), req, &wire.ReadData{N: 4}, []byte("real")); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.err != nil || r.in.From != "site-b" || string(r.in.Data) != "real" {
		t.Fatalf("site-a's request to site-b answered %q from %q (%v), want site-b's own reply", r.in.Data, r.in.From, r.err)
	}
}

// A request or a stream waiting on a peer that disconnects ends at once
// with KindUnreachable naming it, for the hub (told of the disconnect by
// the broker): its replies will never come, and nothing may wait for ever
// on them. Replies that came before are still delivered.
func TestPeerGoneEndsWhatWaitsOnIt(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	hub := connect(t, b, hubHello())
	a := connect(t, b, agentHello("site-a"))
	// Drain the hub's Incoming (Peer notices) so its reader never waits.
	go func() {
		for {
			select {
			case <-hub.Incoming():
			case <-hub.Done():
				return
			}
		}
	}()
	got := make(chan Incoming, 2)
	go func() {
		for {
			select {
			case in := <-a.Incoming():
				got <- in
			case <-a.Done():
				return
			}
		}
	}()
	s, err := hub.Call(bg(t), "site-a", &wire.Scan{Session: "s1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reqErr := make(chan error, 1)
	go func() {
		_, err := hub.Request(bg(t), "site-a", readMsg("a.txt"), nil)
		reqErr <- err
	}()
	scan := <-got
	if err := a.Reply(bg(t), scan, &wire.ScanPart{Session: "s1"}, nil); err != nil {
		t.Fatal(err)
	}
	<-got // the read arrived: both wait on site-a now
	if _, err := s.Recv(bg(t)); err != nil {
		t.Fatalf("the reply sent before the disconnect: %v", err)
	}
	a.Close()
	var we *wire.Error
	if err := <-reqErr; !errors.As(err, &we) || we.Kind != wire.KindUnreachable || we.Host != "site-a" {
		t.Errorf("request to a peer that disconnected: %v, want KindUnreachable naming site-a", err)
	}
	if _, err := s.Recv(bg(t)); !errors.As(err, &we) || we.Kind != wire.KindUnreachable {
		t.Errorf("stream from a peer that disconnected: %v, want KindUnreachable", err)
	}
}
