package agent

import (
	"context"
	"errors"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/peerlink/peerlink/roles"
	"github.com/peerlink/peerlink/sync/watch"
	"github.com/peerlink/peerlink/web/certs"
)

// Options are the agent role's settings, from its command line.
type Options struct {
	Name, BrokerURL, Token, DataDir, Version string
	Log                                      zerolog.Logger
	RescanInterval                           time.Duration // 0: DefaultRescanInterval
	CAFile                                   string        // more CAs to trust for a wss:// broker
	ClockOffset                              time.Duration // tests only: see Config.ClockOffset
	// MetricsListen, if set, serves GET /metrics there without
	// authentication.
	MetricsListen string
	// WatchTree is where tree changes come from (--watch-tree);
	// watch.TreeAuto uses fanotify where the agent may.
	WatchTree watch.Tree
}

// Run runs an agent until ctx ends.
func Run(ctx context.Context, o Options) error {
	if o.Token == "" {
		return errors.New("no token: give --token-file FILE, a copy of the hub's DATA/token file, or set PEERLINK_TOKEN")
	}
	conf, err := certs.Client(o.CAFile)
	if err != nil {
		return err
	}
	if err := roles.DataDir(o.DataDir); err != nil {
		return err
	}
	a, err := New(Config{Name: o.Name, BrokerURL: o.BrokerURL, TLS: conf, Token: o.Token, DataDir: o.DataDir, Version: o.Version, Log: o.Log,
		RescanInterval: o.RescanInterval, ClockOffset: o.ClockOffset, WatchTree: o.WatchTree})
	if err != nil {
		return err
	}
	if o.MetricsListen == "" {
		return a.Run(ctx)
	}
	ln, err := roles.MetricsListener(o.MetricsListen, o.Log)
	if err != nil {
		a.close()
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return roles.ServeMetrics(ctx, ln, a.Metrics()) })
	g.Go(func() error { return a.Run(ctx) })
	return g.Wait()
}
