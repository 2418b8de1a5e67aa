package broker

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/peerlink/peerlink/web/admit"
	"github.com/peerlink/peerlink/wire"
)

// dialFrom opens a WebSocket to b from the loopback address local.
func dialFrom(b *testBroker, local string) (*websocket.Conn, *http.Response, error) {
	nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second, NetDialContext: nd.DialContext}
	return d.Dial(b.url, nil)
}

func TestHelloLargerThanAHelloIsRefusedUnread(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	conn, _, err := websocket.DefaultDialer.Dial(b.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	h := agentHello("site-a")
	h.Token = strings.Repeat("x", wire.MaxHello)
	frame, err := wire.Marshal("", 0, 0, &h, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn.WriteMessage(websocket.BinaryMessage, frame)
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := conn.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("after a hello of %d bytes: read = %v, want a message-too-big close", len(frame), err)
	}
	if b.connected("site-a") {
		t.Fatal("the peer of an oversized hello was admitted")
	}
}

func TestAClientRefusesToSendAHelloLargerThanABrokerReads(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	h := agentHello("site-a")
	h.Token = strings.Repeat("x", wire.MaxHello)
	_, err := Dial(bg(t), b.url, h, testLog(t))
	var we *wire.Error
	if !errors.As(err, &we) || we.Kind != wire.KindInvalid || !strings.Contains(we.Msg, "is the token right?") {
		t.Fatalf("dial with a huge token: %v, want an invalid-hello error asking about the token", err)
	}
}

func TestAnAdmittedPeerSendsFramesLargerThanAHello(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, nil)
	data := bytes.Repeat([]byte("d"), wire.ChunkSize)
	a := connect(t, b, agentHello("site-a"))
	serve(t, a, func(in Incoming) (wire.Message, []byte) { return &wire.OK{}, data })
	c := connect(t, b, agentHello("site-b"))
	in, err := c.Request(bg(t), "site-a", readMsg("big"), data)
	if err != nil {
		t.Fatalf("a request carrying %d bytes: %v", len(data), err)
	}
	if !bytes.Equal(in.Data, data) {
		t.Fatalf("the answer carried %d bytes, want the %d sent", len(in.Data), len(data))
	}
}

func TestHandshakesInProgressAreBounded(t *testing.T) {
	noLeaks(t)
	b := startBroker(t, func(s *Server) { s.handshakes = admit.New(2, 1, 50*time.Millisecond) })
	// Upgraded, no hello yet: each holds a place until it says something.
	first, _, err := dialFrom(b, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if _, resp, err := dialFrom(b, "127.0.0.1"); err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a second handshake from one address: %v (%v), want HTTP 429", err, resp)
	}
	second, _, err := dialFrom(b, "127.0.0.2")
	if err != nil {
		t.Fatalf("another address while the first handshakes: %v", err)
	}
	defer second.Close()
	_, resp, err := dialFrom(b, "127.0.0.3")
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a third handshake with two places: %v (%v), want HTTP 503", err, resp)
	}
	if _, err := Dial(bg(t), b.url, agentHello("site-a"), testLog(t)); err == nil || !strings.Contains(err.Error(), "busy") {
		t.Fatalf("an agent while every place is taken: %v, want the broker busy", err)
	}
	// A handshake that ends, here by a wrong token, frees its place.
	h := agentHello("site-x")
	h.Token = "guess"
	if err := handshake(context.Background(), first, &h, clientTiming); err == nil {
		t.Fatal("a wrong token was welcomed")
	}
	waitFor(t, 10*time.Second, "site-a to be admitted", func() bool {
		c, err := Dial(bg(t), b.url, agentHello("site-a"), testLog(t))
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}
