package roles

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/peerlink/peerlink/wire"
)

// What a client of ServeHTTP may take before a handler decides anything:
// a request's headers, at most maxHeaderBytes within headerTimeout, and the
// whole request with its body within readTimeout (the API's bodies are a
// few KiB); an idle keep-alive connection, idleTimeout. The read deadline
// bounds only reading the request: the server lifts it once the body has
// been read (a handler at work keeps its context), and a hijacked
// connection, the live feed, keeps none.
const (
	headerTimeout  = 10 * time.Second
	readTimeout    = 30 * time.Second
	idleTimeout    = 2 * time.Minute
	maxHeaderBytes = 64 << 10
)

// ServeHTTP serves h on ln until ctx ends, then shuts down gracefully.
func ServeHTTP(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: headerTimeout, ReadTimeout: readTimeout,
		IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Listen opens a TCP listener on addr, serving TLS with conf unless it is
// nil.
func Listen(what, addr string, conf *tls.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, addr, err)
	}
	if conf != nil {
		ln = tls.NewListener(ln, conf)
	}
	return ln, nil
}

// Scheme returns "http://" or "ws://", with an s before the colon under
// TLS.
func Scheme(plain string, conf *tls.Config) string {
	if conf != nil {
		return plain + "s://"
	}
	return plain + "://"
}

// Dialable turns a listener's address into one a local client can dial:
// an unspecified address (":8181", "0.0.0.0") becomes loopback.
func Dialable(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip := tcp.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(tcp.Port))
}

// ServedBy has h's every response say which of peerlink's servers answered
// (wire.ServedByHeader).
func ServedBy(server string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(wire.ServedByHeader, server)
		w.Header().Set(wire.ServerTimeHeader, time.Now().UTC().Format(time.RFC3339Nano))
		h.ServeHTTP(w, r)
	})
}
