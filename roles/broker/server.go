package broker

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/web/admit"
	"github.com/peerlink/peerlink/web/certs"
	"github.com/peerlink/peerlink/wire"
)

// FromBroker is the From of frames the broker originates itself (Peer
// notices, Fail for an unreachable destination). It is the empty string,
// which no authenticated peer can have, so it cannot be spoofed: the broker
// overwrites every forwarded frame's From with the sender's name.
const FromBroker = ""

// PeerInfo describes one connected peer.
type PeerInfo struct {
	Name    string
	Role    wire.Role
	Version string    // the peer's software version, from its Hello
	Addr    string    // remote address of its connection
	Since   time.Time // when its handshake completed
	// Certified is set for a peer admitted by its client certificate,
	// not by the token.
	Certified bool
}

// Server is the message broker: it authenticates peers and routes frames
// between them by destination name. It keeps nothing on disk but, when
// admitting by the hub's list, that list (credentials.go).
type Server struct {
	tokenSum [sha256.Size]byte
	noToken  bool
	log      zerolog.Logger
	version  string
	up       websocket.Upgrader

	// Set before the first connection; tests shorten them.
	t   timing
	lim limits

	// handshakes bounds the connections upgraded but not yet admitted.
	handshakes *admit.Bound
	// authorize, if set, admits peers by their verified client
	// certificate (identity.go); set before the first connection.
	authorize Authorizer
	// creds, set on a standalone broker that admits agents by
	// certificate, is the hub's list of their credentials
	// (credentials.go); nil: the broker takes no Credentials.
	creds *CredentialList

	mu          sync.Mutex
	closing     bool
	peers       map[string]*peer
	handshaking map[*websocket.Conn]struct{}
	wg          sync.WaitGroup // every connection's handler goroutine
}

// peer is one authenticated connection.
type peer struct {
	PeerInfo
	id   certs.Identity // of its certificate, if Certified
	link *link
	gone chan struct{} // closed once the peer is unregistered
}

// NewServer returns a broker that admits peers presenting token. An empty
// token admits nobody: a broker must never run open by accident.
func NewServer(token string, log zerolog.Logger) *Server {
	s := &Server{
		tokenSum:    sha256.Sum256([]byte(token)),
		noToken:     token == "",
		log:         log,
		version:     buildVersion(),
		t:           serverTiming,
		lim:         serverLimits,
		handshakes:  admit.New(maxHandshakes, maxAddrHandshakes, handshakeWait),
		peers:       map[string]*peer{},
		handshaking: map[*websocket.Conn]struct{}{},
	}
	s.up = websocket.Upgrader{
		ReadBufferSize:  bufSize,
		WriteBufferSize: bufSize,
		// No permessage-deflate: chunks are compressed already where
		// it pays (sync/xfer), and deflate would spend CPU on every
		// frame, media and archives included, to gain next to nothing.
		EnableCompression: false,
	}
	return s
}

// Before a peer is admitted it may cost the broker little: its upgrade
// request at most maxHeaderBytes of headers within the hello time, its
// Hello at most wire.MaxHello bytes. A handshake in progress holds the
// connection's buffers (about 130 KiB) until its Hello is read or its time
// is up, so there are at most maxHandshakes at once, maxAddrHandshakes of
// them from one address (IPv6: one /64). A connection beyond that is
// answered 429 at once, or 503 after waiting handshakeWait for a place,
// and peers retry. Admitted, a peer may send frames up to wire.MaxFrame.
const (
	maxHeaderBytes    = 16 << 10
	maxHandshakes     = 64
	maxAddrHandshakes = 16
	handshakeWait     = time.Second
)

// buildVersion is the broker's own version for Welcome, from the build
// information of the binary it is linked into.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

// Handler serves the WebSocket endpoint at /ws and a liveness probe at
// /healthz. Connections it accepts are closed by Serve's shutdown, whichever
// http.Server they came through.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", s.serveWS)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(wire.ServedByHeader, wire.ServedByBroker)
		mux.ServeHTTP(w, r)
	})
}

// Serve runs an http.Server with Handler on ln until ctx ends, then closes
// every connection and returns once all their goroutines have ended. A
// Server is served once: after Serve returns it admits nobody.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	// A WebSocket upgrade has no body, and its connection, once hijacked,
	// keeps none of these deadlines: anything slower is not a peer.
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: s.t.hello, ReadTimeout: s.t.hello,
		IdleTimeout: s.t.hello, MaxHeaderBytes: maxHeaderBytes}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	s.shutdown()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if srv.Shutdown(sctx) != nil {
		srv.Close()
	}
	if err == nil {
		err = <-errc
	}
	s.wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("broker: serve %s: %w", ln.Addr(), err)
}

// shutdown stops admitting peers, ends every connected one with a close
// frame and drops connections still in their handshake.
func (s *Server) shutdown() {
	s.mu.Lock()
	s.closing = true
	peers := make([]*peer, 0, len(s.peers))
	for _, p := range s.peers {
		peers = append(peers, p)
	}
	for c := range s.handshaking {
		c.Close()
	}
	s.mu.Unlock()
	for _, p := range peers {
		p.link.end(errShutdown, websocket.CloseGoingAway, "broker shutting down")
	}
}

var errShutdown = errors.New("broker shutting down")

// Peers lists the connected peers by name.
func (s *Server) Peers() []PeerInfo {
	s.mu.Lock()
	out := make([]PeerInfo, 0, len(s.peers))
	for _, p := range s.peers {
		out = append(out, p.PeerInfo)
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// enter counts a new connection's handler, unless the server is closing.
func (s *Server) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.wg.Add(1)
	return true
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		http.Error(w, "broker shutting down", http.StatusServiceUnavailable)
		return
	}
	defer s.wg.Done()
	p := s.admit(w, r)
	if p == nil {
		return
	}

	s.log.Info().Str("name", p.Name).Str("role", string(p.Role)).Str("addr", p.Addr).Str("version", p.Version).Msg("peer connected")
	p.link.run(func(b []byte) error { return s.route(p, b) })
	s.unregister(p)
	ev := s.log.Info()
	if cause := p.link.cause(); !isNormalEnd(cause) {
		ev = ev.Err(cause)
	}
	ev.Str("name", p.Name).Str("role", string(p.Role)).Str("addr", p.Addr).Msg("peer disconnected")
}

// admit upgrades r's connection and runs its handshake, within the bounds
// on handshakes, and returns the admitted peer, or nil once the connection
// is refused and closed.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) *peer {
	leave, err := s.handshakes.Enter(r.Context(), r.RemoteAddr)
	if err != nil {
		code := http.StatusServiceUnavailable
		if errors.Is(err, admit.ErrAddrBusy) {
			code = http.StatusTooManyRequests
		}
		s.log.Debug().Err(err).Str("addr", r.RemoteAddr).Msg("websocket upgrade refused: too many handshakes")
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Connection", "close")
		http.Error(w, "broker busy with other connections' handshakes: "+err.Error()+": try again in a moment", code)
		return nil
	}
	defer leave()
	conn, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		// Upgrade has answered with an HTTP error already.
		s.log.Debug().Err(err).Str("addr", r.RemoteAddr).Msg("websocket upgrade failed")
		return nil
	}
	conn.SetReadLimit(wire.MaxHello)

	s.mu.Lock()
	s.handshaking[conn] = struct{}{}
	closing := s.closing
	s.mu.Unlock()
	p := (*peer)(nil)
	if !closing {
		p = s.handshake(conn, r.RemoteAddr, r.TLS)
	}
	s.mu.Lock()
	delete(s.handshaking, conn)
	s.mu.Unlock()
	if p == nil {
		conn.Close()
		return nil
	}
	conn.SetReadLimit(wire.MaxFrame)
	return p
}

// isNormalEnd tells an orderly goodbye from a failure worth logging.
func isNormalEnd(err error) bool {
	return err == nil || errors.Is(err, errShutdown) ||
		websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway)
}

// register admits p under its name. A name already taken is checked for
// life first: a peer whose connection died silently (a laptop suspended, a
// cable pulled) would otherwise lock its own restarted agent out for the
// whole idle timeout.
func (s *Server) register(p *peer) *wire.Error {
	for attempt := 0; ; attempt++ {
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			return &wire.Error{Kind: wire.KindTransient, Msg: "broker shutting down: connect again in a moment"}
		}
		old := s.peers[p.Name]
		if old == nil {
			s.peers[p.Name] = p
			// From now on shutdown ends p with a close frame rather than
			// dropping its connection as a handshake in progress.
			delete(s.handshaking, p.link.conn)
			s.announceLocked(p)
			s.mu.Unlock()
			return nil
		}
		s.mu.Unlock()
		if attempt >= 2 || s.alive(old) {
			if p.Role == wire.RoleHub {
				return &wire.Error{Kind: wire.KindExists, Msg: fmt.Sprintf("a hub is already connected from %s: run one hub per broker", old.Addr)}
			}
			return &wire.Error{Kind: wire.KindExists, Msg: fmt.Sprintf("an agent named %s is already connected from %s: give each agent its own --name", p.Name, old.Addr)}
		}
		s.log.Warn().Str("name", old.Name).Str("addr", old.Addr).Str("newcomer", p.Addr).Msg("connected peer did not answer a ping while its name was claimed again; replacing it")
		old.link.end(errStale, websocket.CloseGoingAway, "replaced by a new connection")
		// It goes within the close timeout; the extra is only a safety net.
		t := time.NewTimer(s.t.close + s.t.probe)
		select {
		case <-old.gone:
		case <-t.C:
		}
		t.Stop()
	}
}

var errStale = errors.New("did not answer a ping while its name was claimed by a new connection")

// alive pings a connected peer and reports whether it shows any sign of
// life within the probe time.
func (s *Server) alive(p *peer) bool {
	select {
	case <-p.link.heard:
	default:
	}
	if err := p.link.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(s.t.probe)); err != nil {
		return false
	}
	t := time.NewTimer(s.t.probe)
	defer t.Stop()
	select {
	case <-p.link.heard:
		return true
	case <-p.gone:
		return false
	case <-t.C:
		return false
	}
}

// announceLocked tells the hub about a newly registered agent, or a newly
// registered hub about every agent. Holding s.mu keeps the hub's view in
// step with the registry: every agent is announced up exactly once before
// any of its frames, and down after its last.
func (s *Server) announceLocked(p *peer) {
	if p.Role == wire.RoleHub {
		for _, a := range s.peers {
			if a.Role == wire.RoleAgent {
				s.noticeLocked(p, a, true, a.Since)
			}
		}
		return
	}
	if hub := s.peers[wire.HubName]; hub != nil {
		s.noticeLocked(hub, p, true, p.Since)
	}
}

// unregister removes p and tells the hub that the agent went, and the
// other agents too: one of them reading from p (a fetch of a file p
// changed) would otherwise wait for ever for replies that cannot come,
// and hold up the hub's live loop waiting on its fetch (make chaos, seed
// 3311: p's link cut and restored mid-transfer).
func (s *Server) unregister(p *peer) {
	s.mu.Lock()
	if s.peers[p.Name] == p {
		delete(s.peers, p.Name)
		if p.Role == wire.RoleAgent {
			now := time.Now()
			for _, o := range s.peers {
				s.noticeLocked(o, p, false, now)
			}
		}
	}
	s.mu.Unlock()
	close(p.gone)
}

// noticeLocked queues a Peer notice for to (the hub, or an agent told
// that another went) without blocking; a peer that lets even the slack
// for notices fill up is not draining, and goes.
func (s *Server) noticeLocked(to, a *peer, up bool, at time.Time) {
	m := &wire.Peer{Name: a.Name, Up: up, Since: at.UnixNano()}
	if up {
		m.Version, m.Addr = a.Version, a.Addr
	}
	b, err := wire.Marshal(to.Name, 0, 0, m, nil)
	if err != nil {
		s.log.Error().Err(err).Msg("encode peer notice")
		return
	}
	if err := to.link.out.force(outFrame{hdr: b}); errors.Is(err, errOverflow) {
		s.log.Warn().Str("name", to.Name).Str("addr", to.Addr).Msg("peer is not reading its notices; disconnecting it")
		to.link.end(errNotDraining, websocket.ClosePolicyViolation, "not draining")
	}
}

var errNotDraining = errors.New("not draining its queue")
