package broker

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"github.com/peerlink/peerlink/web/certs"
	"github.com/peerlink/peerlink/wire"
	"github.com/rs/zerolog"
)

// ErrClosed is wrapped by every error caused by the end of a Client's
// connection: Err after Close or a lost connection, and what pending
// requests and streams return then. Reconnecting is the caller's job.
var ErrClosed = errors.New("broker connection closed")

// ErrUntrusted is wrapped when the broker's TLS certificate cannot be
// verified. Retrying does not help until the certificate or the trusted
// CAs change.
var ErrUntrusted = errors.New("certificate not trusted")

// Buffers between the client's reader and its consumers. When one is full
// the reader waits, frames stay in TCP, and the broker stops reading from
// the senders: back-pressure reaches whoever produces faster than this
// client consumes. A consumer that blocks on a send while holding up its
// own receive loop can deadlock with a peer doing the same, so serve
// requests outside the loop that reads Incoming (as the agent does).
const (
	incomingBuf = 32
	streamBuf   = 16
)

// Transport carries whole frames between a Client and the bus: the
// WebSocket link to our broker (link.go), or a link to another message
// engine (DESIGN.md "Scale"; roles/broker/natslink), while request
// matching, streams and back-pressure stay in the Client. A Transport
// that is not our broker must act as the broker towards the Client: set
// each delivered frame's From to the sender it authenticated, deliver
// Peer notices (From == FromBroker) when agents come and go, and block in
// Run's handle rather than drop frames.
type Transport interface {
	// Send queues frame, addressed to `to`, with request ID id (0: it
	// expects no reply); it blocks while the queue is full.
	Send(ctx context.Context, to string, id uint64, frame []byte) error
	Run(handle func(frame []byte) error) // deliver frames until the transport ends
	Shut(cause error)                    // start ending; never blocks
	Done() <-chan struct{}               // closed once ending
	Cause() error                        // why it ended; nil while it runs
}

// Dialer connects a peer to the bus as hello says: Dial's WebSocket link
// to our broker, or another engine's (roles/broker/natslink). Hub and
// agent reconnect through one, whichever it is.
type Dialer func(ctx context.Context, hello wire.Hello) (*Client, error)

// Incoming is a frame received by a Client with its decoded message.
type Incoming struct {
	wire.Frame
	Msg wire.Message
}

// Client is a hub's or an agent's connection to the broker. It is safe for
// concurrent use. One goroutine reads and one writes; both end with Close
// or when the connection is lost, which Done and Err report.
type Client struct {
	name     string
	log      zerolog.Logger
	tr       Transport
	ids      atomic.Uint64
	incoming chan Incoming
	finished chan struct{} // closed once both goroutines have ended

	mu    sync.Mutex
	calls map[uint64]*call
}

// Dial connects to the broker at rawURL and completes the handshake with
// hello, within ctx. ctx bounds only the dial: the connection lasts until
// Close or until it is lost. A zero hello.Protocol means this build's.
// A broker's refusal is returned as the *wire.Error it carried.
func Dial(ctx context.Context, rawURL string, hello wire.Hello, log zerolog.Logger) (*Client, error) {
	return dial(ctx, rawURL, hello, nil, log, clientTiming, clientLimits)
}

// DialTLS is Dial with the TLS configuration of a wss:// URL (nil: the
// system's roots).
func DialTLS(ctx context.Context, rawURL string, hello wire.Hello, conf *tls.Config, log zerolog.Logger) (*Client, error) {
	return dial(ctx, rawURL, hello, conf, log, clientTiming, clientLimits)
}

func dial(ctx context.Context, rawURL string, hello wire.Hello, conf *tls.Config, log zerolog.Logger, t timing, lim limits) (*Client, error) {
	u, err := brokerURL(rawURL)
	if err != nil {
		return nil, err
	}
	if hello.Protocol == 0 {
		hello.Protocol = wire.ProtocolVersion
	}
	if err := hello.Validate(); err != nil {
		return nil, &wire.Error{Kind: wire.KindInvalid, Msg: err.Error()}
	}
	d := websocket.Dialer{
		Proxy:            http.ProxyFromEnvironment,
		HandshakeTimeout: t.hello,
		ReadBufferSize:   bufSize,
		WriteBufferSize:  bufSize,
		TLSClientConfig:  conf,
		// Not offered: the broker refuses it, and chunks are compressed
		// already (see the broker's Upgrader).
		EnableCompression: false,
	}
	conn, resp, err := d.DialContext(ctx, u, nil)
	if err != nil {
		return nil, dialError(ctx, u, resp, err)
	}
	// Until it has answered, the broker is no more trusted than a peer.
	conn.SetReadLimit(wire.MaxHello)
	if err := handshake(ctx, conn, &hello, t); err != nil {
		var we *wire.Error
		if !errors.As(err, &we) {
			err = fmt.Errorf("broker %s: handshake: %w", u, err)
		}
		return nil, err
	}
	conn.SetReadLimit(wire.MaxFrame)
	return NewClient(hello.Name, wsTransport{newLink(conn, lim, t)}, log), nil
}

// NewClient runs a Client named name (as the bus authenticated it) over
// tr, which it owns from now on: Close shuts it and waits for its Run.
func NewClient(name string, tr Transport, log zerolog.Logger) *Client {
	c := &Client{
		name:     name,
		log:      log,
		tr:       tr,
		incoming: make(chan Incoming, incomingBuf),
		finished: make(chan struct{}),
		calls:    map[uint64]*call{},
	}
	go func() {
		defer close(c.finished)
		c.tr.Run(c.handle)
		c.log.Debug().Err(c.tr.Cause()).Msg("broker connection ended")
	}()
	return c
}

// brokerURL accepts ws://host:port, wss://, http(s):// and a bare
// host:port, with or without the /ws path, and returns the WebSocket URL.
func brokerURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if !strings.Contains(s, "://") {
		s = "ws://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("broker URL %q: %w: use ws://HOST:61617", raw, err)
	}
	switch u.Scheme {
	case "ws", "wss":
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("broker URL %q: scheme %q: use ws://HOST:61617 (or wss://)", raw, u.Scheme)
	}
	if u.Host == "" {
		return "", fmt.Errorf("broker URL %q names no host: use ws://HOST:61617", raw)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/ws"
	}
	return u.String(), nil
}

// dialError says what an administrator should check.
func dialError(ctx context.Context, u string, resp *http.Response, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("broker %s: %w", u, ctx.Err())
	}
	if resp != nil {
		var body []byte
		if resp.Body != nil {
			body, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		}
		if resp.StatusCode == http.StatusBadRequest && strings.HasPrefix(u, "ws://") && bytes.Contains(body, []byte("HTTPS")) {
			return fmt.Errorf("broker %s answered HTTP %s: it serves TLS: use wss://HOST:PORT", u, resp.Status)
		}
		if resp.Header.Get(wire.ServedByHeader) == wire.ServedByHub {
			// Not worth retrying: the URL names the wrong server.
			return &wire.Error{Kind: wire.KindInvalid, Msg: fmt.Sprintf("%s is the hub's console and REST API (8181 by default), not its broker: "+
				"give the broker's URL, ws://HOST:61617 (the port of the hub's --broker-listen)", u)}
		}
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			return fmt.Errorf("broker %s answered HTTP %s: it is busy with other connections' handshakes: connect again in a moment", u, resp.Status)
		}
		return fmt.Errorf("broker %s answered HTTP %s: is the URL right? The broker serves ws://HOST:PORT/ws", u, resp.Status)
	}
	if strings.Contains(err.Error(), "remote error: tls:") {
		// Not worth retrying: the broker will not take this certificate.
		return &wire.Error{Kind: wire.KindPermission, Msg: fmt.Sprintf("broker %s refused this peer's certificate in the TLS handshake (%v): "+
			"it was not issued by this hub's CA; enrol with a join code of this hub (peerlink agent --join CODE --hub https://HUB:8181 --data DIR)", u, err)}
	}
	if certs.IsUntrusted(err) {
		return fmt.Errorf("broker %s: %w: %w: if the hub's certificate is self-signed, give its CA with --ca FILE (or PEERLINK_CA)", u, ErrUntrusted, err)
	}
	cause := err
	var errno syscall.Errno
	var dns *net.DNSError
	var ne net.Error
	switch {
	case errors.As(err, &errno):
		cause = errno
	case errors.As(err, &dns):
		cause = dns
	case errors.As(err, &ne) && ne.Timeout():
		cause = fmt.Errorf("timed out: %w", err)
	}
	return fmt.Errorf("broker %s unreachable: %w: is the hub (or broker) running, and is the URL right?", u, cause)
}

// handshake sends hello and reads the broker's Welcome or Refused.
func handshake(ctx context.Context, conn *websocket.Conn, hello *wire.Hello, t timing) error {
	// Closing the connection is the only way to interrupt its I/O.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	err := func() error {
		b, err := wire.Marshal("", 0, 0, hello, nil)
		if err != nil {
			return err
		}
		if len(b) > wire.MaxHello {
			return &wire.Error{Kind: wire.KindInvalid, Msg: fmt.Sprintf("hello of %d bytes is larger than a broker reads (%d): is the token right?", len(b), wire.MaxHello)}
		}
		conn.SetWriteDeadline(time.Now().Add(t.hello))
		if err := conn.WriteMessage(websocket.BinaryMessage, b); err != nil {
			return err
		}
		conn.SetReadDeadline(time.Now().Add(t.hello))
		_, b, err = conn.ReadMessage()
		if err != nil {
			return fmt.Errorf("no answer to hello: %w", err)
		}
		f, err := wire.DecodeFrame(b)
		if err != nil {
			return err
		}
		m, err := wire.Decode(f)
		if err != nil {
			return err
		}
		switch m := m.(type) {
		case *wire.Welcome:
			return nil
		case *wire.Refused:
			e := m.Error
			conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(t.close))
			return &e
		default:
			return fmt.Errorf("expected welcome, got %s", f.Type)
		}
	}()
	if !stop() && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		conn.Close()
	}
	return err
}

// Name is the name this client authenticated with.
func (c *Client) Name() string { return c.name }

// Incoming delivers every frame that is not a reply: requests and
// notifications such as Peer. It is never closed; select on Done as well.
func (c *Client) Incoming() <-chan Incoming { return c.incoming }

// Done is closed when the connection ends, by Close or by a failure.
func (c *Client) Done() <-chan struct{} { return c.tr.Done() }

// Err is nil while the connection runs, then an error wrapping ErrClosed
// and, for a lost connection, its cause.
func (c *Client) Err() error {
	cause := c.tr.Cause()
	switch {
	case cause == nil:
		return nil
	case errors.Is(cause, ErrClosed):
		return cause
	}
	return fmt.Errorf("%w: %w", ErrClosed, cause)
}

// Close ends the connection with a close handshake and returns once both
// goroutines have ended. Pending requests and streams fail with ErrClosed.
func (c *Client) Close() error {
	c.tr.Shut(ErrClosed)
	<-c.finished
	return nil
}

// Send sends a notification: a message that expects no reply. data travels
// beside it unchanged; Send copies it, so the caller may reuse it.
func (c *Client) Send(ctx context.Context, to string, m wire.Message, data []byte) error {
	if err := c.send(ctx, to, 0, 0, m, data); err != nil {
		return fmt.Errorf("send %s to %s: %w", m.Type(), to, err)
	}
	return nil
}

// Reply answers req, a request received on Incoming.
func (c *Client) Reply(ctx context.Context, req Incoming, m wire.Message, data []byte) error {
	if req.ID == 0 || req.From == FromBroker {
		return fmt.Errorf("reply %s to %s from %q: it is not a request", m.Type(), req.Type, req.From)
	}
	if err := c.send(ctx, req.From, 0, req.ID, m, data); err != nil {
		return fmt.Errorf("reply %s to %s: %w", m.Type(), req.From, err)
	}
	return nil
}

// send validates, encodes and queues one frame, waiting while the queue is
// full.
func (c *Client) send(ctx context.Context, to string, id, reply uint64, m wire.Message, data []byte) error {
	// A bad message is a bug here; catch it at the sender, where it reads
	// best, rather than as a decode error on the far side.
	if err := m.Validate(); err != nil {
		return err
	}
	b, err := wire.Marshal(to, id, reply, m, data)
	if err != nil {
		return err
	}
	if err := c.tr.Send(ctx, to, id, b); err != nil {
		if errors.Is(err, errBoxClosed) {
			return c.Err()
		}
		return err
	}
	return nil
}

// handle takes one frame from the reader: replies go to the request or
// stream waiting for them, everything else to Incoming.
func (c *Client) handle(b []byte) error {
	// DecodeFrame then Decode, in fewer passes (see wire.DecodeMessage).
	f, m, err, derr := wire.DecodeMessage(b)
	if err != nil {
		// The broker checked this header; if it fails now the link is broken.
		return err
	}
	in := Incoming{Frame: f, Msg: m}
	if f.Reply != 0 {
		c.dispatch(in, derr)
		return nil
	}
	if derr != nil {
		// The sender is buggy, not the link: keep it, and tell a requester.
		c.log.Warn().Err(derr).Str("from", f.From).Str("type", string(f.Type)).Msg("undecodable message dropped")
		if f.ID != 0 {
			fail := &wire.Fail{Error: wire.Error{Kind: wire.KindInvalid, Op: string(f.Type), Host: c.name, Msg: derr.Error()}}
			if b, err := wire.Marshal(f.From, 0, f.ID, fail, nil); err == nil {
				_ = c.tr.Send(context.Background(), f.From, 0, b) // returns when the link ends
			}
		}
		return nil
	}
	if p, ok := m.(*wire.Peer); ok && !p.Up && f.From == FromBroker {
		// Before Incoming hears of it: nothing waits on the gone peer.
		c.peerGone(p.Name)
	}
	select {
	case c.incoming <- in:
	case <-c.tr.Done():
	}
	return nil
}
