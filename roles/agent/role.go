package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
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
	// Join, with HubURL, enrols the agent with a join code first (see
	// identity.go); once joined, Name and BrokerURL come from the stored
	// identity and no token is used.
	Join, HubURL   string
	Log            zerolog.Logger
	RescanInterval time.Duration // 0: DefaultRescanInterval
	CAFile         string        // more CAs to trust for a wss:// broker
	ClockOffset    time.Duration // tests only: see Config.ClockOffset
	// MetricsListen, if set, serves GET /metrics there without
	// authentication.
	MetricsListen string
	// WatchTree is where tree changes come from (--watch-tree);
	// watch.TreeAuto uses fanotify where the agent may.
	WatchTree watch.Tree
	FaultScan string // tests only: see Config.FaultScan
}

// Run runs an agent until ctx ends.
func Run(ctx context.Context, o Options) error {
	if err := roles.DataDir(o.DataDir); err != nil {
		return err
	}
	conf, err := credentials(ctx, &o)
	if err != nil {
		return err
	}
	a, err := New(Config{Name: o.Name, BrokerURL: o.BrokerURL, TLS: conf, Token: o.Token, DataDir: o.DataDir, Version: o.Version, Log: o.Log,
		RescanInterval: o.RescanInterval, ClockOffset: o.ClockOffset, WatchTree: o.WatchTree, FaultScan: o.FaultScan})
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

// credentials settles how the agent authenticates: by the identity it got
// from a join (made now if o.Join is set), or, never having joined, by the
// shared token of a hub of an older release. It fills o.Name and
// o.BrokerURL from the identity.
func credentials(ctx context.Context, o *Options) (*tls.Config, error) {
	var id *Identity
	var err error
	if o.Join != "" {
		if o.HubURL == "" {
			return nil, errors.New("--join needs --hub, the hub's console and API address: https://HUB:8181")
		}
		id, err = JoinHub(ctx, o.DataDir, o.HubURL, o.Join, o.Log)
	} else {
		id, err = LoadIdentity(o.DataDir)
	}
	if err != nil {
		return nil, err
	}
	if id == nil {
		if o.Token == "" {
			return nil, fmt.Errorf("agent not enrolled (no identity in %s): run it once with --join CODE --hub https://HUB:8181, "+
				"with a code from `peerlink join-code create --name HOST` where the hub runs; "+
				"or, for a hub that still accepts the shared token, no token: give --token-file FILE (a copy of the hub's DATA/token) or set PEERLINK_TOKEN", identityDir(o.DataDir))
		}
		if o.Name == "" || o.BrokerURL == "" {
			return nil, errors.New("an agent using the hub's token needs --name and --broker (an enrolled agent has them from its join)")
		}
		return certs.Client(o.CAFile)
	}
	if o.Name != "" && o.Name != id.Name {
		return nil, fmt.Errorf("--name %s: this agent joined as %s, and its certificate says so: drop --name, or join with a code for %s", o.Name, id.Name, o.Name)
	}
	o.Name, o.Token = id.Name, ""
	if o.BrokerURL == "" {
		o.BrokerURL = id.BrokerURL
	}
	return id.TLS(o.CAFile)
}
