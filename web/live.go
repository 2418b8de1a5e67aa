package web

import (
	"cmp"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/peerlink/peerlink/web/api"
)

// The live feed: one WebSocket per console tab, on which the hub says what
// changed ({"kind":"conflicts","session":"docs"}) and the console fetches
// that resource again. Nothing queues up per client but the hub's set of
// pending notices, at most one per kind and session; a browser that reads
// slowly gets fewer, merged notices, and one that stops reading is dropped
// when a write times out. The hub never waits for a browser.

const (
	// noticeGap is the least time between two rounds of notices to one
	// client: a burst of changes becomes one notice per resource.
	noticeGap = 200 * time.Millisecond
	// pingEvery keeps idle connections (and proxies) alive; a client that
	// answers no ping within pongWait is gone.
	pingEvery = 30 * time.Second
	pongWait  = pingEvery + 15*time.Second
	// writeWait bounds one write to a client.
	writeWait = 10 * time.Second
	// maxClientMessage bounds what a client may send; it has nothing to say.
	maxClientMessage = 1024
)

var upgrader = websocket.Upgrader{
	ReadBufferSize:  1024,
	WriteBufferSize: 4096,
	// Checked by live itself, before the upgrade.
	CheckOrigin: func(*http.Request) bool { return true },
}

// sameOrigin reports whether r's Origin names the host r was sent to. A
// browser always sends one on a WebSocket; a page of another site could
// otherwise open the feed with the administrator's cookie.
func sameOrigin(r *http.Request, required bool) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return !required
	}
	u, err := url.Parse(origin)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, r.Host)
}

// live serves the live feed to one client until it goes or the server
// closes. Its goroutines (this one, and a reader that answers pings and
// notices the client leaving) both end before it returns.
func (s *Server) live(w http.ResponseWriter, r *http.Request) {
	if !sameOrigin(r, caller(r).kind == "console") {
		writeProblem(w, http.StatusForbidden, "the live feed is only for pages of this hub (Origin "+r.Header.Get("Origin")+" is not "+r.Host+")")
		return
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		writeProblem(w, http.StatusServiceUnavailable, "the hub is shutting down")
		return
	}
	s.feeds.Add(1)
	s.mu.Unlock()
	defer s.feeds.Done()

	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade answered the client
	}
	ready, take, cancel := s.c.Subscribe()
	defer cancel()

	gone := make(chan struct{})
	defer func() { conn.Close(); <-gone }()
	conn.SetReadLimit(maxClientMessage)
	go func() {
		defer close(gone)
		conn.SetReadDeadline(time.Now().Add(pongWait))
		conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(time.Now().Add(pongWait)) })
		for {
			if _, _, err := conn.NextReader(); err != nil {
				return
			}
		}
	}()

	send := func(n api.Notice) bool {
		b, _ := json.Marshal(n)
		conn.SetWriteDeadline(time.Now().Add(writeWait))
		return conn.WriteMessage(websocket.TextMessage, b) == nil
	}
	if !send(api.Notice{Kind: api.NoticeHello}) {
		return
	}
	ping := time.NewTicker(pingEvery)
	defer ping.Stop()
	var last time.Time
	for {
		select {
		case <-ready:
			// Let notices of a burst gather before sending them.
			if wait := noticeGap - time.Since(last); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-gone:
					t.Stop()
					return
				case <-s.ctx.Done():
					t.Stop()
					s.goodbye(conn)
					return
				}
			}
			notices := take()
			slices.SortFunc(notices, func(a, b api.Notice) int {
				return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Session, b.Session))
			})
			for _, n := range notices {
				if !send(n) {
					return
				}
			}
			last = time.Now()
		case <-ping.C:
			if conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(writeWait)) != nil {
				return
			}
		case <-gone:
			return
		case <-s.ctx.Done():
			s.goodbye(conn)
			return
		}
	}
}

// goodbye tells a client the hub is going away, so it reconnects later.
func (s *Server) goodbye(conn *websocket.Conn) {
	_ = conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "hub shutting down"), time.Now().Add(time.Second))
}
