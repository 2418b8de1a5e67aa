package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/peerlink/peerlink/wire"
)

func TestHandshake(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	tests := []struct {
		name    string
		hello   func(h *wire.Hello)
		kind    wire.ErrKind // 0: admitted
		message string       // exact, when set: administrators read it
	}{
		{name: "a peer with the right token and protocol is welcomed", hello: func(*wire.Hello) {}},
		{name: "a wrong token is refused with where to find the right one", hello: func(h *wire.Hello) { h.Token = "guess" },
			kind: wire.KindPermission, message: "token refused: copy the token from the hub's DATA/token file"},
		{name: "an empty token is refused", hello: func(h *wire.Hello) { h.Token = "" }, kind: wire.KindPermission},
		{name: "another protocol is refused with which side to upgrade", hello: func(h *wire.Hello) { h.Protocol = wire.ProtocolVersion + 1 },
			kind: wire.KindInvalid, message: fmt.Sprintf("agent speaks protocol %d, broker speaks %d: run the same peerlink version on hub and agents", wire.ProtocolVersion+1, wire.ProtocolVersion)},
		{name: "the protocol is checked before the token", hello: func(h *wire.Hello) { h.Protocol = wire.ProtocolVersion + 1; h.Token = "guess" },
			kind: wire.KindInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := agentHello("site-a")
			tt.hello(&h)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := Dial(ctx, b.url, h, testLog(t))
			if tt.kind == 0 {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				if c.Name() != "site-a" || !b.connected("site-a") {
					t.Errorf("site-a not listed in %v", b.Peers())
				}
				c.Close()
				waitFor(t, 5*time.Second, "site-a to be gone", func() bool { return !b.connected("site-a") })
				return
			}
			var we *wire.Error
			if !errors.As(err, &we) || we.Kind != tt.kind {
				t.Fatalf("Dial = %v, want a *wire.Error of kind %v", err, tt.kind)
			}
			if tt.message != "" && we.Msg != tt.message {
				t.Errorf("message %q, want %q", we.Msg, tt.message)
			}
			if b.connected("site-a") {
				t.Error("refused peer is listed")
			}
		})
	}
}

func TestHubProtocolMismatchNamesTheHub(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	h := hubHello()
	h.Protocol = wire.ProtocolVersion + 1
	_, err := Dial(context.Background(), b.url, h, testLog(t))
	var we *wire.Error
	want := fmt.Sprintf("hub speaks protocol %d, broker speaks %d", wire.ProtocolVersion+1, wire.ProtocolVersion)
	if !errors.As(err, &we) || !strings.HasPrefix(we.Msg, want) {
		t.Fatalf("Dial = %v", err)
	}
}

func TestDuplicateAgentNewcomerRefusedFirstStays(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	first := connect(t, b, agentHello("site-a"))
	other := connect(t, b, agentHello("site-b"))
	serve(t, first, func(Incoming) (wire.Message, []byte) { return &wire.OK{}, nil })

	_, err := Dial(context.Background(), b.url, agentHello("site-a"), testLog(t))
	var we *wire.Error
	if !errors.As(err, &we) || we.Kind != wire.KindExists {
		t.Fatalf("second site-a: Dial = %v, want KindExists", err)
	}
	addr := b.Peers()[0].Addr
	want := "an agent named site-a is already connected from " + addr + ": give each agent its own --name"
	if we.Msg != want {
		t.Errorf("message %q, want %q", we.Msg, want)
	}
	if _, err := other.Request(bg(t), "site-a", readMsg("x"), nil); err != nil {
		t.Fatalf("first site-a no longer answers: %v", err)
	}

	connect(t, b, hubHello()) // the first hub is welcome
}

func TestSecondHubRefused(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	connect(t, b, hubHello())
	_, err := Dial(context.Background(), b.url, hubHello(), testLog(t))
	var we *wire.Error
	if !errors.As(err, &we) || we.Kind != wire.KindExists || !strings.HasPrefix(we.Msg, "a hub is already connected from 127.0.0.1:") {
		t.Fatalf("second hub: Dial = %v", err)
	}
}

func TestSilentHolderOfANameIsReplaced(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, func(s *Server) { s.t.probe = 200 * time.Millisecond })
	// A connection that never reads again answers no ping: a suspended
	// laptop, a pulled cable. Its restarted agent must get its name back.
	rawConnect(t, b, agentHello("site-a"))
	c := connect(t, b, agentHello("site-a"))
	if c.Name() != "site-a" || len(b.Peers()) != 1 {
		t.Fatalf("peers %v", b.Peers())
	}
}

func TestRequestReplyCarriesDataIntact(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	a := connect(t, b, agentHello("site-a"))
	c := connect(t, b, agentHello("site-b"))
	serve(t, a, func(in Incoming) (wire.Message, []byte) {
		return &wire.ReadData{N: min(len(in.Data), wire.ChunkSize)}, in.Data // echo
	})
	for _, n := range []int{0, 1, 4096, wire.ChunkSize, wire.MaxData} {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(rand.IntN(256))
		}
		in, err := c.Request(bg(t), "site-a", readMsg("f"), data)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		rd, ok := in.Msg.(*wire.ReadData)
		if !ok || rd.N != min(n, wire.ChunkSize) || !bytes.Equal(in.Data, data) || in.From != "site-a" || in.Type != wire.TypeReadData {
			t.Fatalf("%d bytes: got %T %+v with %d bytes from %q", n, in.Msg, in.Msg, len(in.Data), in.From)
		}
	}
}

func TestFromIsOverwrittenWithTheSendersName(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	spoofer := rawConnect(t, b, agentHello("site-a"))
	c := connect(t, b, agentHello("site-b"))
	body, _ := json.Marshal(&wire.Progress{Session: "s1", Bytes: 1})
	frame, err := wire.EncodeFrame(wire.Envelope{Type: wire.TypeProgress, From: wire.HubName, To: "site-b", Body: body}, []byte("data"))
	if err != nil {
		t.Fatal(err)
	}
	if err := spoofer.WriteMessage(websocket.BinaryMessage, frame); err != nil {
		t.Fatal(err)
	}
	in := next(t, c)
	if in.From != "site-a" || string(in.Data) != "data" {
		t.Fatalf("From %q data %q, want the spoofer's own name", in.From, in.Data)
	}
}

func TestUnreachableDestination(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	c := connect(t, b, agentHello("site-a"))
	_, err := c.Request(bg(t), "site-b", readMsg("f"), nil)
	var we *wire.Error
	if !errors.As(err, &we) || we.Kind != wire.KindUnreachable || we.Msg != "site-b is not connected" {
		t.Fatalf("Request = %v, want KindUnreachable", err)
	}
	if !errors.Is(err, &wire.Error{Kind: wire.KindUnreachable}) {
		t.Error("errors.Is on the kind fails")
	}
	// A notification to nobody is dropped, not answered.
	if err := c.Send(bg(t), "site-b", &wire.Progress{Session: "s1"}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case in := <-c.Incoming():
		t.Fatalf("unexpected %+v", in)
	default:
	}
}

func TestHubHearsAgentsComeAndGo(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	a := connect(t, b, agentHello("site-a"))
	hub := connect(t, b, hubHello())

	peer := func(want string, up bool) *wire.Peer {
		t.Helper()
		in := next(t, hub)
		p, ok := in.Msg.(*wire.Peer)
		if !ok || p.Name != want || p.Up != up || in.From != FromBroker {
			t.Fatalf("got %T %+v from %q, want %s up=%v from the broker", in.Msg, in.Msg, in.From, want, up)
		}
		return p
	}
	p := peer("site-a", true) // the initial list
	if p.Version != "test" || !strings.HasPrefix(p.Addr, "127.0.0.1:") || p.Since == 0 {
		t.Errorf("initial notice %+v", p)
	}
	c := connect(t, b, agentHello("site-b"))
	peer("site-b", true)
	c.Close()
	peer("site-b", false)
	a.Close()
	peer("site-a", false)
}

func TestPeersSendingBrokerMessagesAreDisconnected(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	hub := connect(t, b, hubHello())
	forger := rawConnect(t, b, agentHello("site-a"))
	if in := next(t, hub); in.Msg.(*wire.Peer).Name != "site-a" {
		t.Fatal(in)
	}
	frame, _ := wire.Marshal(wire.HubName, 0, 0, &wire.Peer{Name: "site-z", Up: true}, nil)
	forger.WriteMessage(websocket.BinaryMessage, frame)
	in := next(t, hub)
	if p := in.Msg.(*wire.Peer); p.Name != "site-a" || p.Up {
		t.Fatalf("hub got %+v, want site-a down", p)
	}
}

func TestMalformedFrameClosesTheOffenderOnly(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	good := connect(t, b, agentHello("site-a"))
	serve(t, good, func(Incoming) (wire.Message, []byte) { return &wire.OK{}, nil })
	other := connect(t, b, agentHello("site-c"))
	for _, bad := range [][]byte{
		{},
		[]byte("hello"),
		{wire.FrameFormat, 0, 0, 0, 2, '{', '}'},
		append([]byte{wire.FrameFormat, 0, 0, 0, 13}, `{"t":"nope"}x`...),
	} {
		raw := rawConnect(t, b, agentHello("site-b"))
		raw.WriteMessage(websocket.BinaryMessage, bad)
		raw.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err := raw.ReadMessage()
		if !websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
			t.Fatalf("after %q: read = %v, want a policy-violation close", bad, err)
		}
		raw.Close()
		waitFor(t, 5*time.Second, "site-b to be gone", func() bool { return !b.connected("site-b") })
	}
	if _, err := other.Request(bg(t), "site-a", readMsg("x"), nil); err != nil {
		t.Fatalf("good peers are affected: %v", err)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, func(s *Server) { s.t.hello = 100 * time.Millisecond })
	conn, _, err := websocket.DefaultDialer.Dial(b.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := conn.ReadMessage(); err == nil {
		t.Fatal("a silent connection is still open")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the broker did not close a connection without a hello")
	}
}

func TestSilentPeerIsDroppedAfterTheIdleTimeout(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, func(s *Server) { s.t.ping, s.t.idle = 20*time.Millisecond, 200*time.Millisecond })
	rawConnect(t, b, agentHello("site-a")) // never reads, so never answers a ping
	c := connect(t, b, agentHello("site-b"))
	waitFor(t, 5*time.Second, "site-a to be dropped", func() bool { return !b.connected("site-a") })
	time.Sleep(400 * time.Millisecond) // two idle periods: the answering client must stay
	if !b.connected("site-b") || c.Err() != nil {
		t.Fatalf("a client that answers pings was dropped: %v", c.Err())
	}
}

func TestHealthz(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	url := "http://" + strings.TrimSuffix(strings.TrimPrefix(b.url, "ws://"), "/ws") + "/healthz"
	resp, err := (&http.Client{Transport: tr}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatal(resp.Status)
	}
}

func TestServeReturnsAfterCancelWithEveryPeerGone(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	hub := connect(t, b, hubHello())
	clients := []*Client{hub, connect(t, b, agentHello("site-a")), connect(t, b, agentHello("site-b"))}
	half, _, err := websocket.DefaultDialer.Dial(b.url, nil) // upgraded, no hello yet
	if err != nil {
		t.Fatal(err)
	}
	defer half.Close()
	pending := make(chan error, 1)
	go func() {
		_, err := hub.Request(bg(t), "site-a", readMsg("never answered"), nil)
		pending <- err
	}()

	b.stop(t)
	if n := len(b.Peers()); n != 0 {
		t.Errorf("%d peers after Serve returned", n)
	}
	for _, c := range clients {
		select {
		case <-c.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("%s still connected", c.Name())
		}
		if !errors.Is(c.Err(), ErrClosed) || !strings.Contains(c.Err().Error(), "broker shutting down") {
			t.Errorf("%s: Err = %v", c.Name(), c.Err())
		}
	}
	if err := <-pending; !errors.Is(err, ErrClosed) {
		t.Errorf("pending request: %v", err)
	}
	if _, err := Dial(context.Background(), b.url, agentHello("site-c"), testLog(t)); err == nil {
		t.Error("a stopped broker admits peers")
	}
}

// Only the hub is named the hub, so that a From of wire.HubName, which the
// broker writes from the sender's registered name, means the hub: an agent
// that registers as "hub" (with a hand-made hello, past the client's own
// check), or a hub that calls itself something else, is refused.
func TestNoPeerButTheHubIsNamedHub(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	for _, h := range []wire.Hello{
		{Role: wire.RoleAgent, Name: wire.HubName},
		{Role: wire.RoleHub, Name: "site-a"},
		{Role: "", Name: wire.HubName},
		{Role: "admin", Name: wire.HubName},
	} {
		h.Protocol, h.Version, h.Token = wire.ProtocolVersion, "test", testToken
		conn, _, err := websocket.DefaultDialer.Dial(b.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = handshake(context.Background(), conn, &h, clientTiming)
		conn.Close()
		var we *wire.Error
		if !errors.As(err, &we) || we.Kind != wire.KindInvalid {
			t.Errorf("hello as role %q named %q: handshake = %v, want it refused as invalid", h.Role, h.Name, err)
		}
		if len(b.Peers()) != 0 {
			t.Fatalf("role %q named %q registered: %v", h.Role, h.Name, b.Peers())
		}
	}
}

// An agent reading from another that goes before it answers (its link
// cut mid-transfer) gets an error at once, not a wait for ever: the
// broker tells every peer, not only the hub, that the agent went (make
// chaos, seed 3311: a fetch hung for two minutes and held up the hub).
func TestAgentWaitingOnAGoneAgentIsTold(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	a := connect(t, b, agentHello("site-a"))
	reader := connect(t, b, agentHello("site-b"))
	waitFor(t, 5*time.Second, "both connected", func() bool { return b.connected("site-a") && b.connected("site-b") })
	errc := make(chan error, 1)
	go func() {
		_, err := reader.Request(bg(t), "site-a", readMsg("big.bin"), nil)
		errc <- err
	}()
	next(t, a) // site-a has the read, and never answers it
	a.Close()
	select {
	case err := <-errc:
		var we *wire.Error
		if !errors.As(err, &we) || we.Kind != wire.KindUnreachable || we.Host != "site-a" {
			t.Fatalf("Request = %v, want KindUnreachable from site-a", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read from site-a still waits after site-a went")
	}
}
