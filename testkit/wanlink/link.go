package wanlink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/toxics"
	"github.com/rs/zerolog"
)

// Shape is what the link does to the bytes that cross it.
type Shape struct {
	// RTT is the round trip the link adds: half of it delays each
	// direction (delayToxic, timed to within tens of microseconds).
	RTT time.Duration
	// Rate is the bandwidth of each direction, in bytes per second; 0 is
	// unlimited. Toxiproxy paces each connection on its own (KB/s, KB =
	// 1000 bytes), so two connections through one link get the rate each.
	Rate int64
}

func (s Shape) String() string {
	rate := "unlimited"
	if s.Rate > 0 {
		rate = fmt.Sprintf("%g Mbit/s", float64(s.Rate)*8/1e6)
	}
	return fmt.Sprintf("%s round trip, %s each way", s.RTT, rate)
}

// Link is one emulated link: a listener on 127.0.0.1 whose connections are
// forwarded to an upstream through the shape's delays.
type Link struct {
	proxy    *toxiproxy.Proxy
	up, down *countToxic // bytes entering the link client→upstream, upstream→client

	mu    sync.Mutex // serialises Reshape, Cut, Restore, ResetAfter, Heal and Close
	shape Shape
	// reset is the armed reset toxic (ResetAfter), nil once healed;
	// lastResets is the count of the one healed last.
	reset      *resetToxic
	lastResets int64
}

// Start listens on a free port of 127.0.0.1 and forwards every connection
// it accepts to upstream, shaped as s.
func Start(upstream string, s Shape) (*Link, error) {
	return StartAt("127.0.0.1:0", upstream, s)
}

// StartAt is Start listening on listen. A link that is cut and restored
// listens again on the same port: a harness that must find it free then
// picks one outside the kernel's ephemeral range.
func StartAt(listen, upstream string, s Shape) (*Link, error) {
	nop := zerolog.Nop()
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), nop)
	p := toxiproxy.NewProxy(server, "wanlink", listen, upstream)
	p.Logger = &nop
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("wanlink to %s: %w", upstream, err)
	}
	l := &Link{proxy: p}
	// The counters go first in each direction's chain and stay there:
	// Reshape removes and adds the toxics after them.
	var err error
	if l.up, err = l.addCounter("upstream"); err == nil {
		l.down, err = l.addCounter("downstream")
	}
	if err == nil {
		err = l.Reshape(s)
	}
	if err != nil {
		p.Stop()
		return nil, fmt.Errorf("wanlink to %s: %w", upstream, err)
	}
	return l, nil
}

// Addr is the link's end to dial: 127.0.0.1:PORT.
func (l *Link) Addr() string { return l.proxy.Listen }

// Upstream is the address the link forwards to.
func (l *Link) Upstream() string { return l.proxy.Upstream }

// Shape returns the link's current shape.
func (l *Link) Shape() Shape {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.shape
}

// Bytes returns how many bytes entered the link from the client's side
// (up) and from the upstream's side (down) since it started, every
// connection counted. Bytes are counted as the link reads them: a
// transfer that completed crossed exactly that many; bytes still in flight
// when a link is cut are counted though they never arrive.
func (l *Link) Bytes() (up, down int64) { return l.up.n.Load(), l.down.n.Load() }

// Reshape changes the delays of the link, for the connections open now
// and those to come. Toxics are removed and added rather than updated in
// place: Toxiproxy decodes an update into the running toxic's fields.
func (l *Link) Reshape(s Shape) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	ctx := zerolog.Nop().WithContext(context.Background())
	for _, name := range []string{"latency_up", "latency_down", "rate_up", "rate_down"} {
		if err := l.proxy.Toxics.RemoveToxic(ctx, name); err != nil && !errors.Is(err, toxiproxy.ErrToxicNotFound) {
			return fmt.Errorf("remove %s: %w", name, err)
		}
	}
	half := s.RTT / 2
	kbps := (s.Rate + 999) / 1000
	// Latency before bandwidth: the delay toxic delays a chunk from the
	// moment it was read, so a chunk that queued behind the rate limit
	// would otherwise skip its delay.
	for _, t := range []struct {
		name, kind, stream string
		attrs              string
		on                 bool
	}{
		{"latency_up", delayType, "upstream", fmt.Sprintf(`{"delay":%d}`, half), half > 0},
		{"latency_down", delayType, "downstream", fmt.Sprintf(`{"delay":%d}`, half), half > 0},
		{"rate_up", "bandwidth", "upstream", fmt.Sprintf(`{"rate":%d}`, kbps), kbps > 0},
		{"rate_down", "bandwidth", "downstream", fmt.Sprintf(`{"rate":%d}`, kbps), kbps > 0},
	} {
		if !t.on {
			continue
		}
		js := fmt.Sprintf(`{"name":%q,"type":%q,"stream":%q,"toxicity":1,"attributes":%s}`, t.name, t.kind, t.stream, t.attrs)
		if _, err := l.proxy.Toxics.AddToxicJson(strings.NewReader(js)); err != nil {
			return fmt.Errorf("add %s: %w", t.name, err)
		}
	}
	l.shape = s
	return nil
}

// Cut takes the link down: open connections are closed and new ones
// refused, as when a router between two offices fails.
func (l *Link) Cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.proxy.Stop()
}

// Restore brings a cut link back on the same port, with the same shape.
func (l *Link) Restore() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.proxy.Start(); err != nil && !errors.Is(err, toxiproxy.ErrProxyAlreadyStarted) {
		return fmt.Errorf("restore wanlink %s: %w", l.proxy.Listen, err)
	}
	return nil
}

// Close stops the link for good, closing its connections.
func (l *Link) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.proxy.Stop()
}

func (l *Link) addCounter(stream string) (*countToxic, error) {
	js := fmt.Sprintf(`{"name":"count_%s","type":%q,"stream":%q,"toxicity":1}`, stream, countType, stream)
	w, err := l.proxy.Toxics.AddToxicJson(strings.NewReader(js))
	if err != nil {
		return nil, fmt.Errorf("add the %s counter: %w", stream, err)
	}
	return w.Toxic.(*countToxic), nil
}

var _ toxics.Toxic = (*countToxic)(nil)
