package roles

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/peerlink/peerlink/broker"
	"github.com/peerlink/peerlink/certs"
	"github.com/peerlink/peerlink/hub"
	"github.com/peerlink/peerlink/web"
)

// HubOptions are the hub's settings.
type HubOptions struct {
	DataDir      string
	Listen       string // console and REST API
	BrokerListen string // embedded broker; ignored with BrokerURL
	BrokerURL    string // an external broker instead of the embedded one
	// TLSCert and TLSKey, both or neither, make the console and API serve
	// HTTPS and the embedded broker wss://, with the same certificate.
	TLSCert, TLSKey string
	// CAFile adds CAs to the system's roots for a wss:// BrokerURL.
	CAFile  string
	Version string
	Log     zerolog.Logger
	// AdminPassword, if set, becomes the console's password (replacing the
	// stored one). Without it, and with none stored, one is generated and
	// printed once to Stderr.
	AdminPassword string
	Stderr        io.Writer // nil means os.Stderr
	// Ready, if set, is called once the listeners are open.
	Ready func(apiAddr, brokerURL, token string)
}

// Hub runs a hub until ctx ends.
func Hub(ctx context.Context, o HubOptions) error {
	if err := DataDir(o.DataDir); err != nil {
		return err
	}
	token, created, err := LoadOrCreateToken(o.DataDir)
	if err != nil {
		return err
	}
	if created {
		o.Log.Info().Str("file", TokenFile(o.DataDir)).Msg("created the hub token: agents and the CLI need it (--token or PEERLINK_TOKEN)")
	}
	var serverTLS, brokerTLS *tls.Config
	if o.TLSCert != "" || o.TLSKey != "" {
		if serverTLS, err = certs.Server(o.TLSCert, o.TLSKey); err != nil {
			return err
		}
	}
	switch {
	case o.BrokerURL != "":
		if brokerTLS, err = certs.Client(o.CAFile); err != nil {
			return err
		}
	case o.CAFile != "":
		return errors.New("--ca is for a standalone broker's certificate (--broker-url wss://...); the hub trusts its embedded broker by its own certificate")
	}
	apiLn, err := listen("console and API --listen", o.Listen, serverTLS)
	if err != nil {
		return err
	}
	defer apiLn.Close()

	brokerURL := o.BrokerURL
	var bLn net.Listener
	if brokerURL == "" {
		bLn, err = listen("embedded broker --broker-listen", o.BrokerListen, serverTLS)
		if err != nil {
			return err
		}
		defer bLn.Close()
		brokerURL = scheme("ws", serverTLS) + dialable(bLn.Addr()) + "/ws"
		if serverTLS != nil {
			// The hub reaches its embedded broker over loopback, by an
			// address its certificate does not name (the certificate names
			// the hub as agents dial it): trust exactly that certificate.
			if brokerTLS, err = certs.Pinned(serverTLS); err != nil {
				return err
			}
		}
	}

	h, err := hub.Open(hub.Config{DataDir: o.DataDir, BrokerURL: brokerURL, BrokerTLS: brokerTLS, Token: token, Version: o.Version, Log: o.Log})
	if err != nil {
		return err
	}
	if err := adminPassword(h, o); err != nil {
		h.Close()
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	if bLn != nil {
		srv := broker.NewServer(token, o.Log.With().Str("role", "broker").Logger())
		g.Go(func() error { return srv.Serve(ctx, bLn) })
		o.Log.Info().Str("listen", bLn.Addr().String()).Str("url", brokerURL).Msg("embedded broker listening")
	}
	g.Go(func() error { return h.Run(ctx) })
	srv := web.New(h, web.Config{Token: token, Log: o.Log})
	g.Go(func() error {
		defer srv.Close() // the live feeds, which Shutdown leaves open
		return serveHTTP(ctx, apiLn, srv)
	})
	o.Log.Info().Str("url", scheme("http", serverTLS)+dialable(apiLn.Addr())).Msg("console and REST API listening")
	if o.Ready != nil {
		o.Ready(dialable(apiLn.Addr()), brokerURL, token)
	}
	return g.Wait()
}

// serveHTTP serves h on ln until ctx ends, then shuts down gracefully.
func serveHTTP(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
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

// listen opens a TCP listener on addr, serving TLS with conf unless it is
// nil.
func listen(what, addr string, conf *tls.Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", what, addr, err)
	}
	if conf != nil {
		ln = tls.NewListener(ln, conf)
	}
	return ln, nil
}

// scheme returns "http://" or "ws://", with an s before the colon under
// TLS.
func scheme(plain string, conf *tls.Config) string {
	if conf != nil {
		return plain + "s://"
	}
	return plain + "://"
}

// dialable turns a listener's address into one a local client can dial:
// an unspecified address (":8181", "0.0.0.0") becomes loopback.
func dialable(a net.Addr) string {
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
