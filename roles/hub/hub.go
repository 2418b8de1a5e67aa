package hub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/metrics"
	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/roles/broker/natslink"
	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// The API's error kinds, under the names the hub's code uses.
var (
	ErrNotFound = api.ErrNotFound
	ErrExists   = api.ErrExists
	ErrInvalid  = api.ErrInvalid
	ErrBusy     = api.ErrBusy
)

// Config is what a hub is started with.
type Config struct {
	DataDir   string
	BrokerURL string      // the broker to connect to (the embedded one or another)
	BrokerTLS *tls.Config // for a wss:// BrokerURL; nil: the system's roots
	// Dial, if set, connects to the broker instead of DialTLS with
	// BrokerURL and BrokerTLS: a NATS cluster's (natslink.Dialer).
	Dial broker.Dialer
	// NATSRevoked, with a NATS cluster for the broker, is the set of
	// revoked agents that Dial's links refuse: the hub fills it from
	// hub.db and adds each agent it revokes.
	NATSRevoked *natslink.Revoked
	Token       string
	Version     string
	Log         zerolog.Logger
	// HostWait is how long a session start waits for its hosts to connect
	// before it fails; zero means 15 s.
	HostWait time.Duration
}

// Hub is the coordinator.
type Hub struct {
	cfg  Config
	log  zerolog.Logger
	db   *store.Hub
	data ownData // cfg.DataDir, which no root may hold

	mu     sync.Mutex
	conn   *broker.Client // nil while the broker is unreachable
	agents map[string]*api.Agent
	runs   map[string]*run
	// resolving serialises conflict resolutions per session.
	resolving map[string]*sync.Mutex
	// changed is closed and replaced whenever agents connect or disconnect,
	// so waiters can block on it instead of polling.
	changed chan struct{}

	runCtx context.Context
	runWG  sync.WaitGroup

	notices notifier // change notices for the console's live feed
	owners  owners   // who owns the copies of listed conflicts
	clocks  clocks   // the agents' clocks as measured (clock.go)
	metrics *metrics.Hub
	// enrol admits agents by certificate (enrol.go, standalone.go); nil
	// without TLS, or with a standalone broker reached by ws://. Set
	// before Run.
	enrol *enrolment
	// mergeMem bounds the collector's headroom while start-ups merge
	// (memory.go).
	mergeMem *mergeMemory
}

// Open opens the hub's state under cfg.DataDir.
func Open(cfg Config) (*Hub, error) {
	if cfg.HostWait == 0 {
		cfg.HostWait = 15 * time.Second
	}
	db, err := store.OpenHub(filepath.Join(cfg.DataDir, "hub.db"))
	if err != nil {
		return nil, err
	}
	h := &Hub{cfg: cfg, log: cfg.Log.With().Str("role", "hub").Logger(), db: db, data: newOwnData(cfg.DataDir),
		agents: map[string]*api.Agent{}, runs: map[string]*run{}, changed: make(chan struct{}), clocks: newClocks(),
		mergeMem: newMergeMemory()}
	seen, err := db.AgentsSeen()
	if err != nil {
		db.Close()
		return nil, err
	}
	for _, a := range seen {
		h.agents[a.Name] = &api.Agent{Name: a.Name, Version: a.Version, Addr: a.Addr, LastSeen: a.LastSeen}
	}
	if err := h.syncNATSRevoked(); err != nil {
		db.Close()
		return nil, err
	}
	h.metrics = metrics.NewHub(h)
	return h, nil
}

// watchBroker adds the embedded broker's queue depths to the metrics.
func (h *Hub) watchBroker(srv *broker.Server) {
	h.metrics.WatchBroker(func() []metrics.QueueDepth {
		qs := srv.Queues()
		out := make([]metrics.QueueDepth, len(qs))
		for i, q := range qs {
			out[i] = metrics.QueueDepth{Peer: q.Peer, Frames: q.Frames, Bytes: q.Bytes}
		}
		return out
	})
}

// Metrics serves the hub's metrics in Prometheus' text format.
func (h *Hub) Metrics() http.Handler { return h.metrics.Handler() }

// Run connects to the broker and serves until ctx ends, then stops every
// session run and closes the state. Sessions that were running when the hub
// last stopped are started again.
func (h *Hub) Run(ctx context.Context) error {
	defer h.db.Close()
	h.mu.Lock()
	h.runCtx = ctx
	h.mu.Unlock()
	h.resume()
	defer h.runWG.Wait()

	hello := wire.Hello{Role: wire.RoleHub, Name: wire.HubName, Protocol: wire.ProtocolVersion, Version: h.cfg.Version, Token: h.cfg.Token}
	for attempt := 0; ; attempt++ {
		c, err := h.dial(ctx, hello)
		if err == nil {
			attempt = 0
			h.log.Info().Str("broker", h.cfg.BrokerURL).Msg("connected to broker")
			h.setConn(c)
			stopClocks := h.startClocks(ctx, c)
			stopSync := h.syncStandalone(ctx, c)
			err = h.serve(ctx, c)
			stopSync()
			stopClocks()
			h.setConn(nil)
			c.Close()
			if ctx.Err() != nil {
				return nil
			}
			h.brokerLost()
			h.log.Warn().Err(err).Msg("lost the broker; reconnecting")
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		var we *wire.Error
		if errors.As(err, &we) && (we.Kind == wire.KindPermission || we.Kind == wire.KindInvalid) {
			return fmt.Errorf("hub: %w", err)
		}
		wait := broker.Backoff(attempt)
		h.log.Warn().Err(err).Str("retry_in", (wait).Round(time.Millisecond).String()).Msg("cannot reach the broker")
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil
		}
	}
}

// dial connects to the broker once.
func (h *Hub) dial(ctx context.Context, hello wire.Hello) (*broker.Client, error) {
	if h.cfg.Dial != nil {
		return h.cfg.Dial(ctx, hello)
	}
	return broker.DialTLS(ctx, h.cfg.BrokerURL, hello, h.cfg.BrokerTLS, h.log)
}

func (h *Hub) setConn(c *broker.Client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.conn = c
	if c == nil {
		now := time.Now()
		for _, a := range h.agents {
			if a.Connected {
				a.Connected, a.LastSeen = false, now
			}
		}
		h.notifyLocked()
		h.notify(api.NoticeAgents, "")
		h.notify(api.NoticeSessions, "")
	}
}

func (h *Hub) notifyLocked() {
	close(h.changed)
	h.changed = make(chan struct{})
}

// serve handles frames that are not replies: agents coming and going, and
// progress reports.
func (h *Hub) serve(ctx context.Context, c *broker.Client) error {
	for {
		var in broker.Incoming
		select {
		case in = <-c.Incoming():
		case <-c.Done():
			return c.Err()
		case <-ctx.Done():
			return ctx.Err()
		}
		switch m := in.Msg.(type) {
		case *wire.Peer:
			// Only the broker knows who is connected; an agent claiming
			// otherwise is ignored.
			if in.From != broker.FromBroker {
				h.log.Warn().Str("from", in.From).Msg("peer notice not from the broker ignored")
				continue
			}
			h.peer(ctx, c, m)
		case *wire.Opened, *wire.Closed, *wire.Changes:
			h.live(ctx, c, in)
		case *wire.Warning:
			h.warning(in.From, m)
		case *wire.Progress:
			// Counted only from a host of the session, as every report.
			if r := h.run(m.Session); r != nil && r.isHost(in.From) {
				r.progress(in.From, m.Bytes)
			}
		default:
			h.log.Warn().Str("type", string(in.Type)).Str("from", in.From).Msg("unexpected message ignored")
		}
	}
}

// peer records an agent coming or going, and tells one that comes which
// of its sessions run (see running.go).
func (h *Hub) peer(ctx context.Context, c *broker.Client, m *wire.Peer) {
	h.mu.Lock()
	a := h.agents[m.Name]
	if a == nil {
		a = &api.Agent{Name: m.Name}
		h.agents[m.Name] = a
	}
	a.Connected = m.Up
	a.LastSeen = time.Unix(0, m.Since)
	if m.Up {
		a.Version, a.Addr = m.Version, m.Addr
	}
	rec := store.AgentSeen{Name: a.Name, Version: a.Version, Addr: a.Addr, LastSeen: a.LastSeen}
	runs := make([]*run, 0, len(h.runs))
	for _, r := range h.runs {
		runs = append(runs, r)
	}
	var running []string
	if m.Up {
		running = h.runningWith(m.Name)
	}
	h.notifyLocked()
	h.mu.Unlock()
	h.notify(api.NoticeAgents, "")
	h.notifyHost(m.Name)

	h.log.Info().Str("agent", m.Name).Bool("connected", m.Up).Str("addr", m.Addr).Msg("agent")
	if m.Up {
		h.tellSessions(ctx, c, m.Name, running)
		h.clocks.connected(m.Name)
	}
	if err := h.db.PutAgentSeen(rec); err != nil {
		h.log.Error().Err(err).Msg("record agent")
	}
	for _, r := range runs {
		r.hostChanged(m.Name, m.Up)
	}
}

// live hands a live message to its session's loop. A session that is not
// running refuses a lock request; its changes are picked up by the next
// start's scan.
func (h *Hub) live(ctx context.Context, c *broker.Client, in broker.Incoming) {
	var session string
	switch m := in.Msg.(type) {
	case *wire.Opened:
		session = m.Session
	case *wire.Closed:
		session = m.Session
	case *wire.Changes:
		session = m.Session
	}
	r := h.run(session)
	if r == nil {
		if in.ID != 0 {
			f := &wire.Fail{Error: wire.Error{Kind: wire.KindInvalid, Op: string(in.Type),
				Msg: fmt.Sprintf("session %s is not running on the hub", session)}}
			if err := c.Reply(ctx, in, f, nil); err != nil {
				h.log.Debug().Err(err).Msg("live reply")
			}
		}
		return
	}
	if !r.isHost(in.From) {
		// Refused before it can take room in the queue or be answered.
		r.log.Warn().Str("from", in.From).Str("type", string(in.Type)).Msg("live message from a host outside the session refused")
		r.refuse(ctx, c, in, &wire.Error{Kind: wire.KindPermission, Msg: fmt.Sprintf("%s is not a host of session %s", in.From, session)})
		return
	}
	in, ok := r.inScope(ctx, c, in)
	if !ok {
		return // about paths outside the session only: refused and logged
	}
	if r.phase() != api.PhaseRunning {
		// Queued for when the start-up ends, unless that would hold up
		// every other session: the next start's scan sees it anyway.
		//
		// A write-open is answered now rather than when the live loop
		// serves it: an agent reports the files open for writing when it
		// is attached, at the start of every start-up, and must not sit
		// on the request meanwhile, its watcher's events backing up. Its
		// copy in the queue is no request any more, so the live loop does
		// not answer it twice.
		q := in
		if _, ok := in.Msg.(*wire.Opened); ok {
			q.ID = 0
		}
		select {
		case r.liveIn <- q:
			if q.ID != in.ID {
				if err := c.Reply(ctx, in, &wire.OK{}, nil); err != nil {
					h.log.Debug().Err(err).Msg("live reply")
				}
			}
		default:
			h.log.Warn().Str("session", session).Str("from", in.From).Msg("live message dropped during start-up: queue full")
			if q.ID != in.ID {
				f := &wire.Fail{Error: wire.Error{Kind: wire.KindTransient, Op: string(in.Type),
					Msg: fmt.Sprintf("session %s is starting and its queue is full: the file is checked by the next start", session)}}
				if err := c.Reply(ctx, in, f, nil); err != nil {
					h.log.Debug().Err(err).Msg("live reply")
				}
			}
		}
		return
	}
	r.mu.Lock()
	gone := r.liveGone
	r.mu.Unlock()
	select {
	case r.liveIn <- in:
	case <-ctx.Done():
	case <-gone:
		// The attempt ended (a host left) while the queue was full: the
		// next start-up's scan sees what this said.
		r.log.Warn().Str("from", in.From).Str("type", string(in.Type)).Msg("live message dropped: the session is starting over")
		r.refuse(ctx, c, in, &wire.Error{Kind: wire.KindTransient, Msg: fmt.Sprintf("session %s is starting over: the file is checked by the next start", session)})
	}
}

// Status is the hub's overview.
func (h *Hub) Status() api.Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := api.Status{Version: h.cfg.Version, Protocol: wire.ProtocolVersion, Agents: make([]api.Agent, 0, len(h.agents))}
	now := time.Now()
	for _, a := range h.agents {
		ag := *a
		if ag.Connected {
			// Heard from within the broker's keep-alive, or it would
			// have dropped the connection.
			ag.LastSeen = now
		}
		ag.Clock = h.clocks.view(ag.Name)
		st.Agents = append(st.Agents, ag)
	}
	sort.Slice(st.Agents, func(i, j int) bool { return st.Agents[i].Name < st.Agents[j].Name })
	st.Warnings = append(h.agentAuthWarnings(), h.peopleWarnings()...)
	return st
}

func (h *Hub) connected(host string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	a := h.agents[host]
	return a != nil && a.Connected
}

func (h *Hub) client() *broker.Client {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.conn
}

// waitHosts waits until every host is connected, or d passes.
func (h *Hub) waitHosts(ctx context.Context, hosts []string, d time.Duration) error {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		missing, changed := h.missing(hosts)
		if len(missing) == 0 {
			return nil
		}
		select {
		case <-changed:
		case <-deadline.C:
			return &wire.Error{Kind: wire.KindUnreachable, Host: missing[0],
				Msg: fmt.Sprintf("not connected: start `peerlink agent --name %s --broker URL --token-file FILE` on that host (waited %s)", missing[0], d)}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// missing returns the hosts that are not connected, with "(the broker)"
// when the hub itself is not, and a channel closed at the next change.
func (h *Hub) missing(hosts []string) ([]string, <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var missing []string
	for _, host := range hosts {
		if a := h.agents[host]; a == nil || !a.Connected {
			missing = append(missing, host)
		}
	}
	if h.conn == nil {
		missing = append(missing, "(the broker)")
	}
	return missing, h.changed
}
