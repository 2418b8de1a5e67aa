package natslink

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/web/certs"
	"github.com/peerlink/peerlink/wire"
)

// IsURL reports whether a broker URL names a NATS cluster: nats:// or
// tls:// (NATS over TLS), alone or as the first of a comma-separated list.
func IsURL(s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.HasPrefix(s, "nats://") || strings.HasPrefix(s, "tls://")
}

// secure reports whether a URL list asks for TLS: a tls:// URL in it.
func secure(url string) bool { return strings.Contains(strings.ToLower(url), "tls://") }

// Options say how a peer connects to the cluster.
type Options struct {
	// URL lists the cluster's servers, comma-separated; the link takes
	// the first that answers and learns the others from it.
	URL   string
	Hello wire.Hello // the peer's role, name and version; its token is not used
	// Key is the peer's NKey (KeyFor, or an agent's NAME.nk); nil
	// connects without one, to a cluster that admits anyone.
	Key nkeys.KeyPair
	TLS *tls.Config // for tls:// URLs; nil: the system's roots
	Log zerolog.Logger
	// Stats, if set, counts what the link carries; give every Dial of one
	// peer the same.
	Stats *Stats
	// Revoked, if set, are the agents the hub's link no longer hears
	// from (Revoked); the hub gives every Dial the same.
	Revoked *Revoked

	t timing // zero: defaultTiming
}

// Dial connects to the NATS cluster at o.URL as o.Hello's peer and returns
// the Client that speaks wire messages over it. ctx bounds only the dial.
// It waits a moment (the settle time) for the others' presence, so that it
// knows whom it can reach and whether its name is taken already.
func Dial(ctx context.Context, o Options) (*broker.Client, error) {
	l, err := dialLink(ctx, o)
	if err != nil {
		return nil, err
	}
	return broker.NewClient(l.name, l, o.Log), nil
}

// dialLink is Dial without the Client on top.
func dialLink(ctx context.Context, o Options) (*link, error) {
	if o.Hello.Protocol == 0 {
		o.Hello.Protocol = wire.ProtocolVersion
	}
	if err := o.Hello.Validate(); err != nil {
		return nil, &wire.Error{Kind: wire.KindInvalid, Msg: err.Error()}
	}
	if o.t == (timing{}) {
		o.t = defaultTiming
	}
	inst := make([]byte, 8)
	rand.Read(inst)
	now := time.Now()
	log := o.Log.With().Str("nats", o.URL).Logger()
	l := &link{
		name: o.Hello.Name, url: o.URL, log: log, bad: log.Sample(&zerolog.BurstSampler{Burst: 10, Period: time.Minute}), t: o.t, stats: o.Stats, revoked: o.Revoked,
		self:    presence{Role: o.Hello.Role, Instance: hex.EncodeToString(inst), Protocol: o.Hello.Protocol, Version: o.Hello.Version, Since: now.UnixNano(), Up: true},
		deliver: make(chan []byte, deliverBuf), asked: make(chan struct{}, 1), peers: map[string]*known{}, asm: newAssembler(o.t.expire), started: now,
	}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	nc, err := nats.Connect(o.URL, l.options(ctx, o)...)
	if err != nil {
		l.cancel()
		return nil, dialError(ctx, o, err)
	}
	l.nc = nc
	if err := l.start(ctx); err != nil {
		l.end(err)
		l.close()
		return nil, err
	}
	l.wg.Add(3)
	go l.beat()
	go l.expire()
	go l.answer()
	l.stats.connected(l)
	l.log.Debug().Str("server", nc.ConnectedUrlRedacted()).Str("instance", l.self.Instance).Msg("connected to NATS")
	return l, nil
}

func (l *link) options(ctx context.Context, o Options) []nats.Option {
	opts := []nats.Option{
		nats.Name(fmt.Sprintf("peerlink %s %s", o.Hello.Role, o.Hello.Name)),
		// A lost connection ends the link, and the peer dials again, as
		// with the built-in broker: frames in flight on a dead server are
		// lost, and only a new connection tells the others so.
		nats.NoReconnect(),
		// The servers in the order given: an office lists its nearest first.
		nats.DontRandomize(),
		nats.Timeout(10 * time.Second),
		nats.PingInterval(l.t.ping),
		nats.MaxPingsOutstanding(3),
		nats.SetCustomDialer(ctxDialer{ctx}),
		nats.ErrorHandler(l.onAsync),
		nats.DisconnectErrHandler(func(nc *nats.Conn, err error) { l.end(lostError(o.URL, nc, err)) }),
		nats.ClosedHandler(func(*nats.Conn) { l.end(fmt.Errorf("NATS %s: connection closed", o.URL)) }),
	}
	if o.Key != nil {
		if pub, err := o.Key.PublicKey(); err == nil {
			opts = append(opts, nats.Nkey(pub, o.Key.Sign))
		}
	}
	if o.TLS != nil && secure(o.URL) {
		// Only for tls:// URLs: nats.go asks every server for TLS once it
		// has a configuration, and a nats:// URL may name a plain one. A
		// nats:// server that requires TLS gets the system's roots: its
		// untrusted certificate says to write tls:// (dialError).
		opts = append(opts, nats.Secure(o.TLS))
	}
	return opts
}

// Dialer is a broker.Dialer for the cluster at url, with the peer's key
// (nil: none), the TLS configuration conf for servers that speak TLS, and
// stats (nil: none) counting what every link it dials carries.
func Dialer(url string, key nkeys.KeyPair, conf *tls.Config, stats *Stats, revoked *Revoked, log zerolog.Logger) broker.Dialer {
	return func(ctx context.Context, hello wire.Hello) (*broker.Client, error) {
		return Dial(ctx, Options{URL: url, Hello: hello, Key: key, TLS: conf, Stats: stats, Revoked: revoked, Log: log})
	}
}

// lostError says why the connection to a server ended: nats.go gives no
// error when the server closed it (shut down, or dropped this client).
func lostError(url string, nc *nats.Conn, err error) error {
	if err == nil {
		err = errServerClosed
	}
	server := url
	if nc != nil {
		if s := nc.ConnectedUrlRedacted(); s != "" {
			server = s
		}
	}
	return fmt.Errorf("NATS %s: connection lost: %w", server, err)
}

// errServerClosed is why a connection the server closed was lost.
var errServerClosed = errors.New("the server closed the connection (shut down, restarted, or dropped this client)")

// ctxDialer dials the servers within the dial's context.
type ctxDialer struct{ ctx context.Context }

func (d ctxDialer) Dial(network, addr string) (net.Conn, error) {
	var nd net.Dialer
	ctx, cancel := context.WithTimeout(d.ctx, 10*time.Second)
	defer cancel()
	return nd.DialContext(ctx, network, addr)
}

// start subscribes, announces the link with a question, and waits the
// settle time for the answers.
func (l *link) start(ctx context.Context) error {
	in, err := l.nc.Subscribe(inboxSubject(l.name), l.onFrame)
	if err == nil {
		l.in = in
		err = in.SetPendingLimits(pendingMsgs, pendingBytes)
	}
	if err == nil {
		_, err = l.nc.Subscribe(presenceAll, l.onPresence)
	}
	if err != nil {
		return fmt.Errorf("NATS %s: subscribe: %w", l.url, err)
	}
	l.announce(true, true)
	if err := l.nc.Flush(); err != nil {
		return fmt.Errorf("NATS %s: %w", l.url, err)
	}
	t := time.NewTimer(l.t.settle)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("NATS %s: %w", l.url, ctx.Err())
	case <-l.ctx.Done():
		return l.Cause()
	}
}

// dialError says what an administrator should check. Refused credentials
// are retried like an unreachable server: the usual cause is a NATS
// server not yet reloaded with a new agent's key.
func dialError(ctx context.Context, o Options, err error) error {
	who := fmt.Sprintf("%s %s", o.Hello.Role, o.Hello.Name)
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("NATS %s: %w", o.URL, ctx.Err())
	case errors.Is(err, nats.ErrAuthorization) || strings.Contains(strings.ToLower(err.Error()), "authorization violation"):
		if o.Key == nil {
			return fmt.Errorf("NATS %s refused %s without credentials (%w): give the agent --nkey-file NAME.nk from `peerlink nats-config`", o.URL, who, err)
		}
		return fmt.Errorf("NATS %s refused the credentials of %s (%w): run `peerlink nats-config --data HUBDATA --agent %s ...` where the hub runs, "+
			"include its peerlink-users.conf in every NATS server and reload them (nats-server --signal reload), and give the agent its %s.nk",
			o.URL, who, err, o.Hello.Name, o.Hello.Name)
	case certs.IsUntrusted(err) && !secure(o.URL):
		return fmt.Errorf("NATS %s: %w: %w: the servers require TLS: write their URLs as tls://HOST:4222, with --ca FILE for the CA that signed their certificates", o.URL, broker.ErrUntrusted, err)
	case certs.IsUntrusted(err):
		return fmt.Errorf("NATS %s: %w: %w: give the CA that signed the NATS servers' certificates with --ca FILE", o.URL, broker.ErrUntrusted, err)
	}
	return fmt.Errorf("NATS %s unreachable: %w: is the NATS cluster running, and is the URL right (nats://HOST:4222, comma-separated for several servers)?", o.URL, err)
}
