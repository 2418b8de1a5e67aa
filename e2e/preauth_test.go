//go:build linux

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/web/certs"
	"github.com/peerlink/peerlink/wire"
)

// What a peer may cost the hub before it has shown who it is (issue 17,
// items 3 and 4): a flood of unauthenticated connections, large or slow,
// must leave the hub's memory flat and its connections closed in bounded
// time, and the hub serving its real clients throughout.

// currentRSS returns the resident set size of a running process in bytes
// (VmRSS), or -1 where /proc does not tell.
func (p *proc) currentRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err == nil {
				return kb << 10
			}
		}
	}
	return -1
}

// hugeHello is a Hello frame of about 24 MB with a wrong token, as a peer
// that has not authenticated may send one.
func hugeHello(t *testing.T) []byte {
	t.Helper()
	body, err := json.Marshal(wire.Hello{Role: wire.RoleAgent, Name: "flood", Protocol: wire.ProtocolVersion,
		Token: strings.Repeat("x", 24_000_000)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := wire.EncodeFrame(wire.Envelope{Type: wire.TypeHello, Body: body}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// helloFloodLimit is how far the hub's peak RSS may rise above its
// baseline while it is flooded.
const helloFloodLimit = 50 << 20

// 200 connections to the broker port, all at once and from 50 addresses,
// each sending a 24 MB Hello with a wrong token, leave the hub's peak RSS within 50 MiB of what
// it was before; afterwards the hub still admits a real agent.
func TestFloodHugeHellos(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	hub := c.proc("hub")
	base := max(hub.peakRSS(), hub.currentRSS())
	if base <= 0 {
		t.Skip("/proc does not tell the hub's RSS")
	}
	frame := hugeHello(t)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Stop at once when the hub's memory passes the limit: the flood would
	// otherwise take gigabytes from a machine the other tests share.
	over := make(chan int64, 1)
	go func() {
		for ctx.Err() == nil {
			if rss := hub.peakRSS(); rss > base+helloFloodLimit {
				over <- rss
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()

	const conns = 200
	var upgraded, refused, failed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	strangerTLS, err := certs.Client(c.ca)
	if err != nil {
		t.Fatal(err)
	}
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			// From 50 addresses, 4 connections each: no share of one address
			// bounds the flood, only what the hub reads of a stranger.
			local := &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+i%50))}
			nd := net.Dialer{LocalAddr: local}
			// A stranger: it trusts the hub's CA but has no certificate.
			d := websocket.Dialer{HandshakeTimeout: time.Minute, NetDialContext: nd.DialContext, TLSClientConfig: strangerTLS}
			conn, resp, err := d.DialContext(ctx, c.brokerWS+"/ws", nil)
			if err != nil {
				if resp != nil {
					refused.Add(1)
				} else {
					failed.Add(1)
				}
				return
			}
			upgraded.Add(1)
			stop := context.AfterFunc(ctx, func() { conn.Close() })
			defer stop()
			defer conn.Close()
			// The hub should give up on the hello long before its end: the
			// write then fails, which is what it should.
			conn.SetWriteDeadline(time.Now().Add(2 * time.Minute))
			_ = conn.WriteMessage(websocket.BinaryMessage, frame)
			conn.SetReadDeadline(time.Now().Add(time.Minute))
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	cancel()
	t.Logf("flood: %d upgraded, %d refused by HTTP status, %d failed to connect; hub RSS baseline %d MiB, peak %d MiB",
		upgraded.Load(), refused.Load(), failed.Load(), base>>20, hub.peakRSS()>>20)
	select {
	case rss := <-over:
		t.Fatalf("the hub's peak RSS rose to %d MiB under the flood, more than its baseline %d MiB + %d MiB",
			rss>>20, base>>20, helloFloodLimit>>20)
	default:
	}
	if hub.exited() {
		t.Fatalf("the hub exited under the flood: %v", hub.err)
	}
	if rss := hub.peakRSS(); rss > base+helloFloodLimit {
		t.Fatalf("the hub's peak RSS rose to %d MiB under the flood, more than its baseline %d MiB + %d MiB",
			rss>>20, base>>20, helloFloodLimit>>20)
	}
	if upgraded.Load() == 0 {
		t.Fatalf("no flood connection got as far as its hello: the test did not exercise the hello's limit")
	}
	c.startAgent("site-a")
}

// slowLogins counts the slow sign-ins that sent their headers and those
// the server closed.
type slowLogins struct {
	started, closed atomic.Int64
}

// run opens a connection from local (an address of the loopback network)
// to addr and starts a sign-in whose body, of 1000 bytes, comes one byte
// every 2 s, until the server closes the connection or ctx ends.
func (s *slowLogins) run(ctx context.Context, local net.IP, addr string) error {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: local}, Timeout: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	head := "POST /api/v1/login HTTP/1.1\r\nHost: " + addr + "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
	if _, err := io.WriteString(conn, head); err != nil {
		return err
	}
	s.started.Add(1)
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		// Whatever the server answers, the connection is only done when
		// the server has closed it.
		_, _ = io.Copy(io.Discard, bufio.NewReader(conn))
	}()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for sent := 0; sent < 1000; sent++ {
		select {
		case <-gone:
			if ctx.Err() == nil {
				s.closed.Add(1)
			}
			return nil
		case <-ctx.Done():
			return nil
		case <-tick.C:
			_, _ = conn.Write([]byte{' '})
		}
	}
	return nil
}

// 300 sign-ins whose bodies trickle in at one byte every 2 s, from another
// address than the administrator's, are all closed by the hub within a
// minute; meanwhile the administrator signs in and the CLI's token works.
func TestFloodSlowLoginBodies(t *testing.T) {
	t.Parallel()
	pwFile := filepath.Join(t.TempDir(), "admin-password")
	const password = "a console password"
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, "--admin-password-file", pwFile)
	addr := fmt.Sprintf("127.0.0.1:%d", c.apiPort)
	// The flood comes from 127.0.0.2, the administrator from 127.0.0.1:
	// the limits per address must not shut out every other address.
	flooder := net.IPv4(127, 0, 0, 2)
	// The live feed, opened before the flood, outlives the time the hub
	// gives a request to arrive: its connection is no request any more.
	notices := liveFeed(t, c)
	waitNotice(t, notices, api.Notice{Kind: api.NoticeHello})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const conns = 300
	var flood slowLogins
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := flood.run(ctx, flooder, addr); err != nil {
				errs <- err
			}
		}()
	}
	defer wg.Wait()
	defer cancel()

	// During the flood: a sign-in with the password, a call with the
	// console's cookie and one with the hub's token.
	waitFor(t, 30*time.Second, "every slow sign-in to send its headers", func() bool {
		return flood.started.Load()+int64(len(errs)) == conns
	})
	b := newBrowser(t, c.hubURL, c.ca)
	var me api.Me
	if code := b.call("POST", "/api/v1/login", api.LoginRequest{Password: password}, &me, false); code != http.StatusOK {
		t.Fatalf("sign in during the flood: status %d, want 200", code)
	}
	b.csrf = me.CSRF
	b.must("GET", "/api/v1/sessions", nil, nil, http.StatusOK)
	if _, err := c.client().Status(context.Background()); err != nil {
		t.Fatalf("status with the hub's token during the flood: %v", err)
	}

	waitFor(t, 60*time.Second, "the hub to close every slow sign-in", func() bool {
		select {
		case err := <-errs:
			t.Fatalf("a slow sign-in: %v", err)
		default:
		}
		return flood.closed.Load() == conns
	})
	if _, err := c.client().Status(context.Background()); err != nil {
		t.Fatalf("status with the hub's token after the flood: %v", err)
	}
	c.startAgent("site-a")
	waitNotice(t, notices, api.Notice{Kind: api.NoticeAgents})
}

// liveFeed opens the hub's live feed with its token and returns its
// notices; the channel closes with the feed.
func liveFeed(t *testing.T, c *cluster) <-chan api.Notice {
	t.Helper()
	wsURL := "ws" + strings.TrimPrefix(c.hubURL, "http") + "/api/v1/live"
	ws, _, err := (&websocket.Dialer{TLSClientConfig: trusting(t, c.ca).(*http.Transport).TLSClientConfig}).Dial(wsURL, http.Header{"Authorization": {"Bearer " + c.apiToken}})
	if err != nil {
		t.Fatalf("live feed: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	return noticesOf(ws)
}

// noticesOf returns the notices a live feed's connection delivers; the
// channel closes with the connection.
func noticesOf(ws *websocket.Conn) <-chan api.Notice {
	notices := make(chan api.Notice, 1000)
	go func() {
		defer close(notices)
		for {
			var n api.Notice
			if err := ws.ReadJSON(&n); err != nil {
				return
			}
			notices <- n
		}
	}()
	return notices
}

// waitNotice waits for want on a live feed, passing over other notices.
func waitNotice(t *testing.T, notices <-chan api.Notice, want api.Notice) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case n, ok := <-notices:
			if !ok {
				t.Fatalf("the live feed closed before a %+v notice", want)
			}
			if n == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %+v notice on the live feed", want)
		}
	}
}
