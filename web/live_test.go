package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/peerlink/peerlink/web/api"
)

// dialLive opens the live feed of srv with the given headers.
func dialLive(t *testing.T, srv *httptest.Server, h http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/v1/live"
	conn, resp, err := websocket.DefaultDialer.Dial(url, h)
	if conn != nil {
		t.Cleanup(func() { conn.Close() })
	}
	return conn, resp, err
}

func readNotice(t *testing.T, conn *websocket.Conn, within time.Duration) (api.Notice, error) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(within))
	var n api.Notice
	_, b, err := conn.ReadMessage()
	if err != nil {
		return n, err
	}
	if err := json.Unmarshal(b, &n); err != nil {
		t.Fatalf("notice %q: %v", b, err)
	}
	return n, nil
}

func TestLiveFeed(t *testing.T) {
	s, f, _ := newTestServer(t)
	srv := httptest.NewServer(s)
	defer srv.Close()
	cookie, _ := signIn(t, s)
	origin := srv.URL

	refused := []struct {
		name     string
		h        http.Header
		wantCode int
	}{
		{"no credential", http.Header{"Origin": {origin}}, 401},
		{"a wrong token", http.Header{"Authorization": {"Bearer nope"}}, 401},
		{"the cookie from another site's page", http.Header{"Cookie": {cookie.String()}, "Origin": {"http://evil.example"}}, 403},
		{"the cookie without an Origin", http.Header{"Cookie": {cookie.String()}}, 403},
		{"the token from another site's page", http.Header{"Authorization": {"Bearer " + testToken}, "Origin": {"http://evil.example"}}, 403},
	}
	for _, tc := range refused {
		_, resp, err := dialLive(t, srv, tc.h)
		if err == nil || resp == nil || resp.StatusCode != tc.wantCode {
			code := 0
			if resp != nil {
				code = resp.StatusCode
			}
			t.Errorf("%s: dial err %v, status %d; want refused with %d", tc.name, err, code, tc.wantCode)
		}
	}

	for _, tc := range []struct {
		name string
		h    http.Header
	}{
		{"the console's cookie", http.Header{"Cookie": {cookie.String()}, "Origin": {origin}}},
		{"the hub's token", http.Header{"Authorization": {"Bearer " + testToken}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, _, err := dialLive(t, srv, tc.h)
			if err != nil {
				t.Fatal(err)
			}
			if n, err := readNotice(t, conn, 5*time.Second); err != nil || n.Kind != api.NoticeHello {
				t.Fatalf("first message %+v, %v; want hello", n, err)
			}
			waitSubscribers(t, f, 1)
			f.notify(api.NoticeConflicts, "s")
			if n, err := readNotice(t, conn, 5*time.Second); err != nil || n != (api.Notice{Kind: "conflicts", Session: "s"}) {
				t.Fatalf("after a change: %+v, %v; want a conflicts notice of s", n, err)
			}
			// A burst of the same change is one notice, or a few.
			for range 100 {
				f.notify(api.NoticeEvents, "s")
			}
			got := 0
			for {
				n, err := readNotice(t, conn, 600*time.Millisecond)
				if err != nil {
					break
				}
				if n.Kind == api.NoticeEvents {
					got++
				}
			}
			if got < 1 || got > 2 {
				t.Errorf("100 events notices in a burst arrived as %d, want 1 or 2", got)
			}
			conn.Close()
			waitSubscribers(t, f, 0)
		})
	}
}

func TestLiveFeedEndsWithTheServer(t *testing.T) {
	s, f, _ := newTestServer(t)
	srv := httptest.NewServer(s)
	defer srv.Close()
	conn, _, err := dialLive(t, srv, http.Header{"Authorization": {"Bearer " + testToken}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readNotice(t, conn, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	s.Close() // returns once the feed's goroutines are done
	if n := f.subscribers(); n != 0 {
		t.Errorf("%d subscriptions left after Close", n)
	}
	_, err = readNotice(t, conn, 5*time.Second)
	if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("after Close the client read %v, want a going-away close", err)
	}
	if _, resp, err := dialLive(t, srv, http.Header{"Authorization": {"Bearer " + testToken}}); err == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a feed opened after Close: %v, want 503", err)
	}
}

func waitSubscribers(t *testing.T, f *fakeHub, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for f.subscribers() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers, want %d", f.subscribers(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
