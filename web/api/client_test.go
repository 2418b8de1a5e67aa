package api

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// A CLI pointed with http:// at a hub that serves HTTPS on another
// machine must find out before it sends the token, which would otherwise
// cross the network in clear.
func TestPlainHTTPToAnHTTPSHubDoesNotSendTheToken(t *testing.T) {
	var tokens atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			tokens.Add(1)
		}
		w.Write([]byte(`{"version":"x","protocol":1,"agents":[]}`))
	}))
	srv.StartTLS()
	defer srv.Close()
	plain := "http://" + strings.TrimPrefix(srv.URL, "https://")

	c := NewClient(plain, "secret")
	c.probe = true // as for a hub on another machine; the test's is on loopback
	_, err := c.Status(context.Background())
	var se *StatusError
	if !errors.As(err, &se) || !strings.Contains(se.Msg, "serves HTTPS: use https://") {
		t.Fatalf("status over http:// to an HTTPS hub: %v", err)
	}
	if _, err := c.Sessions(context.Background()); err == nil {
		t.Fatal("a second request went through")
	}
	if n := tokens.Load(); n != 0 {
		t.Errorf("the hub received the token %d times", n)
	}
}

func TestPlainHTTPHubIsProbedOnceAndUsed(t *testing.T) {
	var probes, calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			probes.Add(1)
			w.Write([]byte("ok\n"))
			return
		}
		calls.Add(1)
		w.Write([]byte(`{"version":"x","protocol":1,"agents":[]}`))
	}))
	defer srv.Close()
	c := NewClient(srv.URL, "secret")
	if c.probe {
		t.Fatal("a hub on loopback is probed")
	}
	c.probe = true
	for range 3 {
		if _, err := c.Status(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if probes.Load() != 1 || calls.Load() != 3 {
		t.Errorf("%d probes and %d calls, want 1 and 3", probes.Load(), calls.Load())
	}
	if NewClient("http://hub.example:8181", "t").probe != true || NewClient("https://hub.example:8181", "t").probe {
		t.Error("only a plain http:// hub elsewhere is probed")
	}
}
