package roles

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/peerlink/peerlink/broker"
	"github.com/peerlink/peerlink/hub"
	"github.com/peerlink/peerlink/web"
)

// HubOptions are the hub's settings.
type HubOptions struct {
	DataDir      string
	Listen       string // console and REST API
	BrokerListen string // embedded broker; ignored with BrokerURL
	BrokerURL    string // an external broker instead of the embedded one
	Version      string
	Log          zerolog.Logger
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
	apiLn, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("console and API --listen %s: %w", o.Listen, err)
	}
	defer apiLn.Close()

	brokerURL := o.BrokerURL
	var bLn net.Listener
	if brokerURL == "" {
		bLn, err = net.Listen("tcp", o.BrokerListen)
		if err != nil {
			return fmt.Errorf("embedded broker --broker-listen %s: %w", o.BrokerListen, err)
		}
		defer bLn.Close()
		brokerURL = "ws://" + dialable(bLn.Addr()) + "/ws"
	}

	h, err := hub.Open(hub.Config{DataDir: o.DataDir, BrokerURL: brokerURL, Token: token, Version: o.Version, Log: o.Log})
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
		o.Log.Info().Str("listen", bLn.Addr().String()).Msg("embedded broker listening")
	}
	g.Go(func() error { return h.Run(ctx) })
	srv := web.New(h, web.Config{Token: token, Log: o.Log})
	g.Go(func() error {
		defer srv.Close() // the live feeds, which Shutdown leaves open
		return serveHTTP(ctx, apiLn, srv)
	})
	o.Log.Info().Str("url", "http://"+dialable(apiLn.Addr())).Msg("console and REST API listening")
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
