package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/peerlink/peerlink/metrics"
	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/sync/filter"
	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/sync/watch"
	"github.com/peerlink/peerlink/wire"
)

// Config is what an agent is started with.
type Config struct {
	Name      string
	BrokerURL string
	TLS       *tls.Config // for a wss:// BrokerURL; nil: the system's roots
	// Dial, if set, connects to the broker instead of DialTLS with
	// BrokerURL and TLS: a NATS cluster's (natslink.Dialer).
	Dial    broker.Dialer
	Token   string
	DataDir string
	Version string
	Log     zerolog.Logger
	// RescanInterval is how often a session's root is scanned once a
	// file system watch limit keeps the agent from watching all of it;
	// 0 means DefaultRescanInterval.
	RescanInterval time.Duration
	// ClockOffset shifts the time this agent reports to the hub's clock
	// measurement, and nothing else. For tests only (--clock-offset): it
	// fakes a host whose clock is off without changing the test machine's.
	ClockOffset time.Duration
	// WatchTree is where the watcher takes tree changes from: fanotify
	// (no watch per folder) where the agent may, by default.
	WatchTree watch.Tree
	// FaultScan, for tests only (--fault-scan, hidden), names a file: while
	// it exists, holding a number N, every whole scan fails after sending
	// N entries (faultscan.go).
	FaultScan string
}

// Agent serves one file server's part in every session it is attached to.
type Agent struct {
	cfg Config
	log zerolog.Logger
	db  *store.Agent

	mu       sync.Mutex
	sessions map[string]*attached
	names    userNames // owners of files, for the hub's conflict list
	metrics  *metrics.Agent
	// graces are the sessions' lock grace periods, from their attachments
	// (cutoff.go).
	graces map[string]time.Duration
	// journals keep the sessions' change journals (journal.go), across
	// losses of the hub.
	journals map[string]*journaler
}

// attached is one session's watch set on this host.
type attached struct {
	name   string
	root   string // as configured
	real   string // symlinks resolved, for overlap checks
	tree   *tree.Tree
	filter *filter.Filter
	hosts  map[string]bool
	// protect keeps what the agent replaces or deletes; nil when target
	// protection is off.
	protect *protection
	stop    context.CancelFunc // ends the protected area's pruning
	live    *live              // watcher and locker; nil if they could not start
	// ctx ends when the session is attached again or detached: the scans
	// and applies of this attachment (counted in work) stop then, so an
	// aborted attempt's transfers never run on beside the next attempt's
	// scan, which removes their temp files, or its fetches of the same paths.
	ctx    context.Context
	cancel context.CancelFunc
	work   sync.WaitGroup
	// received holds, by path, the span list of a file just rebuilt by
	// delta (the source's, of the very content): recordApplied stamps it
	// with the file's state once in place, so that the next delta to this
	// host need not read the file again for its signature.
	received sync.Map
	// attachedAt is when the live watcher started: what changed before is
	// the journal's to name (journal.go).
	attachedAt time.Time
}

// New opens the agent's state under cfg.DataDir.
func New(cfg Config) (*Agent, error) {
	if err := wire.CheckName("host", cfg.Name); err != nil {
		return nil, fmt.Errorf("agent --name: %w", err)
	}
	if cfg.Name == wire.HubName {
		return nil, fmt.Errorf("agent --name: %q is reserved for the hub", wire.HubName)
	}
	db, err := store.OpenAgent(filepath.Join(cfg.DataDir, "agent.db"))
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", cfg.Name, err)
	}
	return &Agent{cfg: cfg, log: cfg.Log.With().Str("agent", cfg.Name).Logger(), db: db, sessions: map[string]*attached{}, graces: map[string]time.Duration{},
		journals: map[string]*journaler{},
		metrics:  metrics.NewAgent()}, nil
}

// Metrics serves the agent's metrics in Prometheus' text format.
func (a *Agent) Metrics() http.Handler { return a.metrics.Handler() }

// Run keeps the agent connected to the broker until ctx ends, reconnecting
// with back-off. It returns early only for errors a retry cannot fix: a
// refused token, a protocol mismatch or a name already in use.
func (a *Agent) Run(ctx context.Context) error {
	defer a.close()
	// cut releases, while the agent is cut off from the hub, the copies it
	// locked for writers elsewhere once their grace period is over
	// (cutoff.go); it is stopped when the agent is connected. An agent
	// that starts without the hub is cut off from the start.
	cut := a.cutOff(ctx)
	defer func() { cut() }()
	hello := wire.Hello{Role: wire.RoleAgent, Name: a.cfg.Name, Protocol: wire.ProtocolVersion, Version: a.cfg.Version, Token: a.cfg.Token}
	for attempt := 0; ; attempt++ {
		c, err := a.dial(ctx, hello)
		if err == nil {
			attempt = 0
			cut()
			cut = func() {}
			a.log.Info().Str("broker", a.cfg.BrokerURL).Msg("connected")
			err = a.serve(ctx, c)
			c.Close()
			if ctx.Err() != nil {
				return nil
			}
			a.log.Warn().Err(err).Msg("lost the broker; reconnecting")
			a.detachAll()
			cut = a.cutOff(ctx)
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		var we *wire.Error
		if errors.As(err, &we) && (we.Kind == wire.KindPermission || we.Kind == wire.KindInvalid || we.Kind == wire.KindExists) {
			return fmt.Errorf("agent %s: %w", a.cfg.Name, err)
		}
		wait := broker.Backoff(attempt)
		if errors.Is(err, broker.ErrUntrusted) {
			// Kept trying: the hub's certificate may be replaced while we wait.
			a.log.Error().Err(err).Str("retry_in", (wait).Round(time.Millisecond).String()).Msg("the broker's certificate is not trusted; not connecting")
		} else {
			a.log.Warn().Err(err).Str("retry_in", (wait).Round(time.Millisecond).String()).Msg("cannot reach the broker")
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil
		}
	}
}

// dial connects to the broker once.
func (a *Agent) dial(ctx context.Context, hello wire.Hello) (*broker.Client, error) {
	if a.cfg.Dial != nil {
		return a.cfg.Dial(ctx, hello)
	}
	return broker.DialTLS(ctx, a.cfg.BrokerURL, hello, a.cfg.TLS, a.log)
}

func (a *Agent) close() {
	a.detachAll()
	a.stopJournals()
	n, err := a.releaseAll()
	if n > 0 {
		a.log.Info().Int("locks", n).Msg("released the locked copies: a stopped agent leaves nothing locked; writers still at work elsewhere have them locked again when the agent is back")
	}
	if err != nil {
		a.log.Error().Err(err).Msg("release the locked copies at stop: run `peerlink agent unlock --data DIR` once the agent is stopped")
	}
	if err := a.db.Close(); err != nil {
		a.log.Error().Err(err).Msg("close agent.db")
	}
}

// serve answers frames from one broker connection until it ends: commands
// from the hub only, reads as mayRead allows (senders.go). Each request
// runs in its own goroutine, owned by the errgroup; reads are bounded so a
// flood of them cannot exhaust memory.
func (a *Agent) serve(ctx context.Context, c *broker.Client) error {
	g, ctx := errgroup.WithContext(ctx)
	// Each read holds up to two chunk buffers and its reply (3.4 MiB): at
	// 32, a source serving 64 large files at once peaked at 116 MiB (make
	// bench); 8 keep the disk and the link as busy.
	reads := make(chan struct{}, 8)
	defer g.Wait()
	for {
		var in broker.Incoming
		select {
		case in = <-c.Incoming():
		case <-c.Done():
			return c.Err()
		case <-ctx.Done():
			return ctx.Err()
		}
		switch in.Msg.(type) {
		case *wire.Peer:
			// Another agent went: the client ended what waited on it.
			continue
		case *wire.Read, *wire.ReadMany, *wire.Spans, *wire.Chunks:
			// Other agents read too: read, readMany, spans and chunks
			// check who may.
		default:
			if !commander(in) {
				a.refuse(ctx, c, in)
				continue
			}
		}
		switch m := in.Msg.(type) {
		case *wire.Attach:
			id, err := a.attach(c, m)
			if err != nil {
				a.reply(ctx, c, in, err)
			} else if err := c.Reply(ctx, in, &wire.Attached{Root: id}, nil); err != nil {
				a.log.Debug().Err(err).Msg("reply")
			}
		case *wire.Lock:
			a.reply(ctx, c, in, a.lockCopy(m))
		case *wire.Unlock:
			a.reply(ctx, c, in, a.unlockCopies(m))
		case *wire.RootCheck:
			a.reply(ctx, c, in, a.checkRoot(m.Root))
		case *wire.Detach:
			a.reply(ctx, c, in, a.detachEnded(m.Session))
		case *wire.JournalClear:
			a.reply(ctx, c, in, a.db.ClearJournal(m.Session, m.Seq))
		case *wire.Sessions:
			a.settleSessions(m)
		case *wire.Clock:
			a.clock(ctx, c, in)
		case *wire.Scan:
			g.Go(func() error { a.scan(ctx, c, in, m); return nil })
		case *wire.Apply:
			g.Go(func() error { a.apply(ctx, c, in, m); return nil })
		case *wire.Read:
			select {
			case reads <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
			g.Go(func() error { defer func() { <-reads }(); a.read(ctx, c, in, m); return nil })
		case *wire.Owners:
			g.Go(func() error { a.owners(ctx, c, in, m); return nil })
		case *wire.ReadMany:
			select {
			case reads <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
			g.Go(func() error { defer func() { <-reads }(); a.readMany(ctx, c, in, m); return nil })
		case *wire.Spans:
			select {
			case reads <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
			g.Go(func() error { defer func() { <-reads }(); a.spans(ctx, c, in, m); return nil })
		case *wire.Chunks:
			select {
			case reads <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
			g.Go(func() error { defer func() { <-reads }(); a.chunks(ctx, c, in, m); return nil })
		default:
			a.log.Warn().Str("type", string(in.Type)).Str("from", in.From).Msg("unexpected message ignored")
		}
	}
}

// reply answers a request with OK, or with a Fail carrying err's shape.
func (a *Agent) reply(ctx context.Context, c *broker.Client, in broker.Incoming, err error) {
	var m wire.Message = &wire.OK{}
	if err != nil {
		m = &wire.Fail{Error: *wire.ToError(string(in.Type), a.cfg.Name, "", err)}
	}
	if err := c.Reply(ctx, in, m, nil); err != nil {
		a.log.Debug().Err(err).Msg("reply")
	}
}

// begin returns the attached session for a scan or an apply, with ctx
// narrowed to end with the attachment; call end when the work is over.
func (a *Agent) begin(ctx context.Context, name string) (s *attached, _ context.Context, end func(), err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s = a.sessions[name]
	if s == nil {
		return nil, ctx, func() {}, &wire.Error{Kind: wire.KindInvalid, Host: a.cfg.Name, Msg: fmt.Sprintf("session %s is not attached on this host", name)}
	}
	s.work.Add(1)
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.ctx, cancel)
	return s, ctx, func() { stop(); cancel(); s.work.Done() }, nil
}

func (a *Agent) session(name string) (*attached, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[name]
	if s == nil {
		return nil, &wire.Error{Kind: wire.KindInvalid, Host: a.cfg.Name, Msg: fmt.Sprintf("session %s is not attached on this host", name)}
	}
	return s, nil
}
