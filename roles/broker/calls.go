package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/peerlink/peerlink/wire"
)

// errStreamClosed is returned by Recv after Close.
var errStreamClosed = errors.New("stream closed")

// result is one reply, or why it could not be decoded.
type result struct {
	in  Incoming
	err error
}

// call waits for the replies to one request ID.
type call struct {
	to     string      // whom the request went to: only its replies count
	single bool        // a Request: the first reply completes it
	ch     chan result // bounded: a full stream makes the reader wait
	closed chan struct{}
	once   sync.Once
	// gone, set before closed is closed, is why the call ended without
	// its reply: its destination disconnected.
	gone error
}

func (k *call) close() { k.once.Do(func() { close(k.closed) }) }

func (k *call) fail(err error) {
	k.once.Do(func() {
		k.gone = err
		close(k.closed)
	})
}

// peerGone ends every request and stream waiting on name, which the
// broker says disconnected: its replies will never come, and a caller
// waiting for them (the hub's live loop applying a change there) must not
// wait for ever. Replies already received are still returned first.
func (c *Client) peerGone(name string) {
	c.mu.Lock()
	var gone []*call
	for id, k := range c.calls {
		if k.to == name {
			delete(c.calls, id)
			gone = append(gone, k)
		}
	}
	c.mu.Unlock()
	for _, k := range gone {
		k.fail(&wire.Error{Kind: wire.KindUnreachable, Host: name, Msg: "disconnected before it answered"})
	}
}

func (c *Client) register(to string, single bool) (uint64, *call) {
	size := streamBuf
	if single {
		size = 1
	}
	k := &call{to: to, single: single, ch: make(chan result, size), closed: make(chan struct{})}
	id := c.ids.Add(1)
	c.mu.Lock()
	c.calls[id] = k
	c.mu.Unlock()
	return id, k
}

func (c *Client) forget(id uint64) {
	c.mu.Lock()
	k := c.calls[id]
	delete(c.calls, id)
	c.mu.Unlock()
	if k != nil {
		k.close()
	}
}

// dispatch hands a reply to its call. A reply nobody waits for any more (a
// request that timed out, a stream closed early) is dropped, and so is one
// from anyone but the request's destination (or the broker, which answers
// for a destination it cannot reach): request IDs are easy to guess, and a
// peer must not answer for another, a scan or a read say.
func (c *Client) dispatch(in Incoming, derr error) {
	c.mu.Lock()
	k := c.calls[in.Reply]
	if k != nil && in.From != k.to && in.From != FromBroker {
		c.mu.Unlock()
		c.log.Warn().Str("from", in.From).Str("to", k.to).Str("type", string(in.Type)).Uint64("reply", in.Reply).
			Msg("reply from a peer the request did not go to dropped")
		return
	}
	if k != nil && k.single {
		delete(c.calls, in.Reply) // at most one delivery, so the send below never waits
	}
	c.mu.Unlock()
	if k == nil {
		c.log.Debug().Str("from", in.From).Str("type", string(in.Type)).Uint64("reply", in.Reply).Msg("reply for no pending request dropped")
		return
	}
	r := result{in: in}
	switch m := in.Msg.(type) {
	case nil:
		r.err = fmt.Errorf("reply from %s: %w", in.From, derr)
	case *wire.Fail:
		e := m.Error
		if e.Host == "" && in.From != FromBroker {
			e.Host = in.From
		}
		r.err = &e
	}
	select {
	case k.ch <- r:
	case <-k.closed:
	case <-c.tr.Done():
	}
}

// Request sends m to `to` and waits for the first reply. A Fail reply is
// returned as its *wire.Error; ctx ending or the connection ending returns
// an error too, and a reply arriving later is dropped.
func (c *Client) Request(ctx context.Context, to string, m wire.Message, data []byte) (Incoming, error) {
	id, k := c.register(to, true)
	defer c.forget(id)
	if err := c.send(ctx, to, id, 0, m, data); err != nil {
		return Incoming{}, fmt.Errorf("request %s to %s: %w", m.Type(), to, err)
	}
	r, err := c.wait(ctx, k)
	if err != nil {
		return Incoming{}, fmt.Errorf("request %s to %s: %w", m.Type(), to, err)
	}
	if r.err != nil {
		return Incoming{}, r.err
	}
	return r.in, nil
}

// wait returns the next result for k; replies already received are
// returned before the end of the connection is.
func (c *Client) wait(ctx context.Context, k *call) (result, error) {
	select {
	case r := <-k.ch:
		return r, nil
	default:
	}
	select {
	case r := <-k.ch:
		return r, nil
	case <-ctx.Done():
		return result{}, ctx.Err()
	case <-k.closed:
		select {
		case r := <-k.ch:
			return r, nil
		default:
		}
		if k.gone != nil {
			return result{}, k.gone
		}
		return result{}, errStreamClosed
	case <-c.tr.Done():
		select {
		case r := <-k.ch:
			return r, nil
		default:
		}
		return result{}, c.Err()
	}
}

// Call sends m to `to` as a request that is answered by many replies, and
// returns the Stream that receives them. The receiver decides when the
// stream is over (a Done field, a Fail); Close the Stream then.
func (c *Client) Call(ctx context.Context, to string, m wire.Message, data []byte) (*Stream, error) {
	id, k := c.register(to, false)
	if err := c.send(ctx, to, id, 0, m, data); err != nil {
		c.forget(id)
		return nil, fmt.Errorf("call %s on %s: %w", m.Type(), to, err)
	}
	return &Stream{c: c, id: id, k: k, what: fmt.Sprintf("call %s on %s", m.Type(), to)}, nil
}

// Stream receives the replies to one Call, in the order they were sent.
// It buffers a few; while its buffer is full the client's reader waits, so
// a slow consumer slows the sender rather than growing memory (and delays
// every other frame to this client: consume promptly or Close).
type Stream struct {
	c    *Client
	id   uint64
	k    *call
	what string
}

// Recv returns the next reply. A Fail reply is returned as its *wire.Error;
// an error wrapping ErrClosed means the connection ended.
func (s *Stream) Recv(ctx context.Context) (Incoming, error) {
	r, err := s.c.wait(ctx, s.k)
	if err != nil {
		return Incoming{}, fmt.Errorf("%s: %w", s.what, err)
	}
	if r.err != nil {
		return Incoming{}, r.err
	}
	return r.in, nil
}

// Close stops the stream; replies still arriving are dropped.
func (s *Stream) Close() { s.c.forget(s.id) }
