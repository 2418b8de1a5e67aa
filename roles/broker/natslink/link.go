package natslink

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/wire"
)

// timing is the presence and keep-alive policy of a link; tests shorten it.
type timing struct {
	beat   time.Duration // between a peer's presence announcements
	expire time.Duration // silence after which a peer is taken for gone
	settle time.Duration // after connecting, for the others' answers to arrive
	// answerGap is the least time between two answers to newcomers'
	// questions: well under settle, so every newcomer hears one in time.
	answerGap time.Duration
	ping      time.Duration // NATS keep-alive: three unanswered end the link
	bye       time.Duration // for the goodbye to leave when closing
}

var defaultTiming = timing{beat: 5 * time.Second, expire: 20 * time.Second, settle: time.Second, answerGap: 200 * time.Millisecond, ping: 15 * time.Second, bye: time.Second}

// Back-pressure. A sender's publishes block on its TCP connection to its
// NATS server; the server queues at most its max_pending for a reader and
// drops a reader that does not drain within its write_deadline (a slow
// consumer), as the built-in broker drops a peer that does not drain its
// queue. Here the inbox subscription's callback blocks while the Client's
// consumers are busy, so frames wait in nats.go's pending list, bounded by
// these limits; past them nats.go would drop frames, and the link ends
// instead (a peerlink peer never loses a frame silently): the peer
// reconnects and the hub catches it up as after any cut.
const (
	pendingMsgs  = 64 << 10
	pendingBytes = 64 << 20
	deliverBuf   = 32
)

// link is one peer's connection to the NATS cluster, as a broker.Transport.
type link struct {
	nc   *nats.Conn
	self presence
	name string
	url  string
	log  zerolog.Logger
	// bad logs what a rogue or broken client sent, sampled: a flood of
	// it must not flood the journal too.
	bad   zerolog.Logger
	t     timing
	stats *Stats // nil: not counted
	// revoked are agents whose frames and beats are dropped: a revoked
	// agent's key still opens the NATS servers until they are reloaded.
	revoked *Revoked
	in      *nats.Subscription

	ctx    context.Context // cancelled by end
	cancel context.CancelFunc
	mu     sync.Mutex
	cause  error

	sending sync.Mutex // held while one frame's messages are published

	deliver chan []byte   // to Run, which hands each to the Client
	asked   chan struct{} // a newcomer asked who is there: to answer; one place
	// order serialises what goes to deliver from the subscriptions and
	// the expirer, so a peer's Up notice precedes its frames and its Down
	// notice follows them.
	order sync.Mutex
	peers map[string]*known // under order
	asm   *assembler        // frames in fragments; the inbox callback's only
	// For Stats, which must not wait for order or the inbox callback.
	npeers, asmFrames, asmBytes atomic.Int64
	started                     time.Time
	wg                          sync.WaitGroup // the beater, the expirer and unreachable notices
}

func (l *link) end(cause error) {
	l.mu.Lock()
	if l.cause == nil {
		l.cause = cause
	}
	l.mu.Unlock()
	l.cancel()
}

// push hands b to Run, waiting while it is busy, until the link ends.
func (l *link) push(b []byte) {
	select {
	case l.deliver <- b:
	case <-l.ctx.Done():
	}
}

// Send publishes frame to `to`, in fragments if it is larger than the
// cluster takes in one message. A request to a peer known not to be
// connected is answered at once with a Fail, as the built-in broker does.
func (l *link) Send(ctx context.Context, to string, id uint64, frame []byte) error {
	if l.ctx.Err() != nil {
		return fmt.Errorf("%w: %w", broker.ErrClosed, l.Cause())
	}
	if to == broker.FromBroker {
		return &wire.Error{Kind: wire.KindInvalid, Msg: "a NATS cluster takes no frames for the broker itself"}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if id != 0 && !l.reachable(to) {
		l.unreachable(to, id)
		return nil
	}
	subj := frameSubject(to, l.name, l.self.Instance)
	max := int(l.nc.MaxPayload()) - 1
	// One frame at a time: the fragments of frames sent at once from
	// several goroutines would interleave on the subject they share, and
	// the receiver would put together frames of pieces of several.
	l.sending.Lock()
	defer l.sending.Unlock()
	for off := 0; ; off += max {
		rest := frame[off:]
		mark := fragWhole
		switch {
		case len(rest) > max:
			rest, mark = rest[:max], fragMore
		case off > 0:
			mark = fragLast
		}
		msg := make([]byte, 1+len(rest))
		msg[0] = mark
		copy(msg[1:], rest)
		if err := l.nc.Publish(subj, msg); err != nil {
			if l.ctx.Err() != nil {
				return fmt.Errorf("%w: %w", broker.ErrClosed, l.Cause())
			}
			return fmt.Errorf("publish to %s: %w", to, err)
		}
		if mark == fragWhole || mark == fragLast {
			l.stats.sent(len(frame))
			return nil
		}
	}
}

// unreachable answers request id for `to` with a Fail, from the broker.
func (l *link) unreachable(to string, id uint64) {
	b, err := wire.Marshal(l.name, 0, id, &wire.Fail{Error: wire.Error{Kind: wire.KindUnreachable, Msg: to + " is not connected"}}, nil)
	if err != nil {
		l.log.Error().Err(err).Msg("encode fail")
		return
	}
	// Not from the caller's goroutine: it may be the one Run waits on.
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		l.push(b)
	}()
}

// onFrame takes one message of the inbox subscription: reassembles the
// frame, sets its From to the sender the subject names (which the NATS
// permissions let only that sender publish to) and hands it on.
func (l *link) onFrame(m *nats.Msg) {
	from, inst, ok := parseFrameSubject(m.Subject)
	if !ok || len(m.Data) == 0 {
		l.stats.drop()
		l.bad.Warn().Str("subject", m.Subject).Msg("message on the inbox with no sender or no frame dropped")
		return
	}
	if l.revoked.Has(from) {
		l.stats.drop()
		l.bad.Warn().Str("from", from).Msg("frame of a revoked agent dropped: reload the NATS servers with the users `peerlink nats-config` writes now")
		return
	}
	part, why := l.asm.add(from, inst, m.Data[0], m.Data[1:], time.Now())
	frames, bytes := l.asm.holding()
	l.asmFrames.Store(int64(frames))
	l.asmBytes.Store(int64(bytes))
	if why != "" {
		l.stats.drop()
		l.bad.Warn().Str("from", from).Str("instance", inst).Msg(why + " dropped")
	}
	if part == nil {
		return
	}
	f, hdr, err := wire.Reframe(part, from)
	if err == nil && (brokerOnly[f.Type] || f.Type == wire.TypeCredentials) {
		err = fmt.Errorf("%w: %s frames come only from the broker", wire.ErrFrame, f.Type)
	}
	if err != nil {
		l.stats.drop()
		l.bad.Warn().Err(err).Str("from", from).Msg("malformed frame dropped")
		return
	}
	b := make([]byte, 0, len(hdr)+len(f.Data))
	b = append(append(b, hdr...), f.Data...)
	l.stats.received(len(part))
	l.arrive(from, inst, nil, b)
}

// brokerOnly are the message types only the broker may send.
var brokerOnly = map[wire.Type]bool{
	wire.TypeHello: true, wire.TypeWelcome: true, wire.TypeRefused: true, wire.TypePeer: true,
}

// onAsync takes nats.go's asynchronous errors: a permission refused or
// frames dropped end the link, with what to do.
func (l *link) onAsync(_ *nats.Conn, sub *nats.Subscription, err error) {
	switch {
	case errors.Is(err, nats.ErrSlowConsumer):
		l.end(fmt.Errorf("NATS %s: frames arrived faster than %s handled them (%d MiB waiting), and would have been dropped: %w",
			l.url, l.name, pendingBytes>>20, err))
	case errors.Is(err, nats.ErrPermissionViolation):
		l.end(&wire.Error{Kind: wire.KindPermission, Host: l.name, Msg: fmt.Sprintf("NATS %s: %v: the NKey this peer connects with is not %s's: "+
			"give it the seed `peerlink nats-config --agent %s` wrote, and include that run's peerlink-users.conf in every NATS server", l.url, err, l.name, l.name)})
	default:
		l.log.Warn().Err(err).Msg("NATS error")
	}
}

// Run hands every frame and notice to handle until the link ends, then
// says goodbye and closes the NATS connection.
func (l *link) Run(handle func(frame []byte) error) {
	for {
		select {
		case b := <-l.deliver:
			if err := handle(b); err != nil {
				l.end(err)
			}
		case <-l.ctx.Done():
			l.close()
			return
		}
	}
}

// close tells the others this instance is gone, if the connection still
// works, and closes it.
func (l *link) close() {
	if !l.nc.IsClosed() {
		l.announce(false, false)
		_ = l.nc.FlushTimeout(l.t.bye)
		l.nc.Close()
	}
	l.wg.Wait()
}

func (l *link) Shut(cause error)      { l.end(cause) }
func (l *link) Done() <-chan struct{} { return l.ctx.Done() }
func (l *link) Cause() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cause
}
