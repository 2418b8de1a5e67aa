package broker

import (
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// timing is the keep-alive and deadline policy of one side of a link.
type timing struct {
	hello time.Duration // for the Hello/Welcome exchange
	ping  time.Duration // interval between our pings
	idle  time.Duration // silence after which the other side is presumed dead
	write time.Duration // for one frame to leave: a peer that does not drain for this long is dropped
	close time.Duration // for the other side to answer our close frame
	probe time.Duration // for a connected peer to answer when its name is claimed again
}

// The broker writes within 60 s; a client allows 90 s, so that a client
// whose frames wait behind a stalled destination (the broker drops that
// destination after 60 s) does not give up on the broker first.
var (
	serverTiming = timing{hello: 10 * time.Second, ping: 15 * time.Second, idle: 45 * time.Second, write: 60 * time.Second, close: time.Second, probe: 3 * time.Second}
	clientTiming = timing{hello: 10 * time.Second, ping: 15 * time.Second, idle: 45 * time.Second, write: 90 * time.Second, close: time.Second}
)

// Queue bounds: 256 frames or 16 MiB per connection, whichever comes first.
// 16 MiB covers a WAN's bandwidth-delay product many times over, and tens of
// agents cost at most a few hundred MiB even when all of them stall.
var (
	serverLimits = limits{frames: 256, bytes: 16 << 20}
	clientLimits = limits{frames: 64, bytes: 16 << 20}
)

// Buffer sizes for gorilla: large enough that a 1 MiB chunk leaves in a
// few writes rather than 256 of the default 4 KiB.
const bufSize = 64 << 10

// stopped records why a link ended and how to tell the other side.
type stopped struct {
	cause error
	code  int // WebSocket close code
	text  string
}

// link runs one WebSocket connection carrying wire frames, for either side:
// the goroutine calling run reads, a second goroutine owned by run writes
// what is queued in out and pings. Only the writer writes data frames and
// only run closes the connection, once both directions are done.
type link struct {
	conn   *websocket.Conn
	out    *outbox
	t      timing
	ctx    context.Context // cancelled by stop: ends the writer and any waiting producer
	cancel context.CancelFunc

	mu   sync.Mutex
	stop stopped
	once bool
	kill *time.Timer // closes the connection if the goodbye takes too long

	readerDone chan struct{}
	heard      chan struct{} // capacity 1: poked whenever the other side shows life
}

func newLink(conn *websocket.Conn, lim limits, t timing) *link {
	ctx, cancel := context.WithCancel(context.Background())
	return &link{conn: conn, out: newOutbox(lim), t: t, ctx: ctx, cancel: cancel, readerDone: make(chan struct{}), heard: make(chan struct{}, 1)}
}

// end stops the link for cause; the first call wins. It never blocks, so it
// may be called with locks held: the writer sends the close frame.
func (l *link) end(cause error, code int, text string) {
	l.mu.Lock()
	if !l.once {
		l.once = true
		l.stop = stopped{cause: cause, code: code, text: text}
		// The writer may be stuck in a write to a peer that stopped
		// reading, where it cannot send the close frame: bound the whole
		// goodbye so that ending never waits for a write deadline.
		l.kill = time.AfterFunc(2*l.t.close, func() { l.conn.Close() })
	}
	l.mu.Unlock()
	l.cancel()
	l.out.close()
}

// cause reports why the link ended, nil while it runs.
func (l *link) cause() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stop.cause
}

// run reads frames and passes each to handle until the connection fails,
// handle returns an error, or end is called; then it waits for the writer,
// closes the connection and returns. handle may block (back-pressure) but
// must return once l.ctx is done.
func (l *link) run(handle func(b []byte) error) {
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		l.writeLoop()
	}()
	l.readLoop(handle)
	close(l.readerDone)
	<-writerDone
	l.conn.Close()
	l.mu.Lock()
	if l.kill != nil {
		l.kill.Stop()
	}
	l.mu.Unlock()
}

func (l *link) readLoop(handle func(b []byte) error) {
	// Any sign of life from the other side extends the read deadline: our
	// pings are answered by pongs, its pings arrive as pings.
	extend := func() { l.conn.SetReadDeadline(time.Now().Add(l.t.idle)) }
	alive := func() {
		extend()
		select {
		case l.heard <- struct{}{}:
		default:
		}
	}
	l.conn.SetPongHandler(func(string) error { alive(); return nil })
	l.conn.SetPingHandler(func(data string) error {
		alive()
		// As gorilla's default handler: a pong that cannot be written now
		// is not worth failing the read for; the writer will notice.
		_ = l.conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(l.t.close))
		return nil
	})
	scratch := make([]byte, 0, 64<<10)
	for {
		extend()
		if l.ctx.Err() != nil {
			// Keep reading until the other side answers our close frame
			// (the writer closes the connection if it does not).
			l.drain()
			return
		}
		mt, b, err := readMessage(l.conn, &scratch)
		if err != nil {
			l.end(err, websocket.CloseGoingAway, "")
			return
		}
		alive()
		if l.ctx.Err() != nil {
			continue // ending: what still arrives is discarded
		}
		if mt != websocket.BinaryMessage {
			l.end(errors.New("text message where a binary frame was expected"), websocket.CloseUnsupportedData, "peerlink frames are binary")
			return
		}
		if err := handle(b); err != nil {
			l.end(err, websocket.ClosePolicyViolation, "")
			return
		}
	}
}

// keepScratch is the largest read buffer a link keeps between messages.
const keepScratch = 4 << 20

// readMessage reads one message as conn.ReadMessage does, but through
// scratch, a buffer kept from one message to the next, and returns a copy
// of exactly the message's size. ReadMessage's io.ReadAll grows a fresh
// buffer a dozen times for a 1 MiB chunk, clearing each: measured, a third
// of the hub's CPU relaying a 1 GiB file went to clearing memory.
func readMessage(conn *websocket.Conn, scratch *[]byte) (int, []byte, error) {
	mt, r, err := conn.NextReader()
	if err != nil {
		return mt, nil, err
	}
	buf := (*scratch)[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return mt, nil, err
		}
	}
	if cap(buf) <= keepScratch {
		*scratch = buf[:0]
	}
	return mt, append([]byte{}, buf...), nil
}

// drain discards what arrives until the close handshake completes or the
// connection is closed under it.
func (l *link) drain() {
	for {
		if _, _, err := l.conn.ReadMessage(); err != nil {
			return
		}
	}
}

func (l *link) writeLoop() {
	ping := time.NewTicker(l.t.ping)
	defer ping.Stop()
	for {
		select {
		case <-l.ctx.Done():
			l.goodbye()
			return
		case <-ping.C:
			if err := l.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(l.t.write)); err != nil {
				l.end(err, websocket.CloseGoingAway, "")
			}
		case <-l.out.ready:
			if f, ok := l.out.pop(); ok {
				if err := l.write(f); err != nil {
					l.end(err, websocket.CloseGoingAway, "")
				}
			}
		}
	}
}

func (l *link) write(f outFrame) error {
	l.conn.SetWriteDeadline(time.Now().Add(l.t.write))
	w, err := l.conn.NextWriter(websocket.BinaryMessage)
	if err != nil {
		return err
	}
	if _, err := w.Write(f.hdr); err != nil {
		return err
	}
	if len(f.data) > 0 {
		if _, err := w.Write(f.data); err != nil {
			return err
		}
	}
	return w.Close()
}

// goodbye sends the close frame, gives the reader a moment to receive the
// answer, then closes the connection so a reader stuck on a silent peer
// returns too.
func (l *link) goodbye() {
	l.mu.Lock()
	s := l.stop
	l.mu.Unlock()
	_ = l.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(s.code, s.text), time.Now().Add(l.t.close))
	t := time.NewTimer(l.t.close)
	defer t.Stop()
	select {
	case <-l.readerDone:
	case <-t.C:
		l.conn.Close()
	}
}

// wsTransport is the Transport a Client sees of a link.
type wsTransport struct{ l *link }

func (w wsTransport) Send(ctx context.Context, _ string, _ uint64, frame []byte) error {
	return w.l.out.put(ctx, outFrame{hdr: frame})
}

func (w wsTransport) Run(handle func(b []byte) error) { w.l.run(handle) }
func (w wsTransport) Shut(cause error)                { w.l.end(cause, websocket.CloseNormalClosure, "") }
func (w wsTransport) Done() <-chan struct{}           { return w.l.ctx.Done() }
func (w wsTransport) Cause() error                    { return w.l.cause() }
