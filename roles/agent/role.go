package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nkeys"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/peerlink/peerlink/roles"
	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/roles/broker/natslink"
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
	// NKeyFile is the agent's NATS key (NAME.nk from `peerlink
	// nats-config`) for a nats:// BrokerURL.
	NKeyFile    string
	ClockOffset time.Duration // tests only: see Config.ClockOffset
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
	natsStats := &natslink.Stats{}
	dial, err := natsDialer(o, conf, natsStats)
	if err != nil {
		return err
	}
	a, err := New(Config{Name: o.Name, BrokerURL: o.BrokerURL, TLS: conf, Dial: dial, Token: o.Token, DataDir: o.DataDir, Version: o.Version, Log: o.Log,
		RescanInterval: o.RescanInterval, ClockOffset: o.ClockOffset, WatchTree: o.WatchTree, FaultScan: o.FaultScan})
	if err != nil {
		return err
	}
	if dial != nil {
		a.metrics.WatchNATS(natsStats.Metrics)
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

// natsDialer is the dialer of an agent whose broker is a NATS cluster,
// with its key from o.NKeyFile, counting in stats what it carries; nil for
// any other broker.
func natsDialer(o Options, conf *tls.Config, stats *natslink.Stats) (broker.Dialer, error) {
	if !natslink.IsURL(o.BrokerURL) {
		if o.NKeyFile != "" {
			return nil, fmt.Errorf("--nkey-file is for a NATS cluster (--broker nats://...), not the broker at %s", o.BrokerURL)
		}
		return nil, nil
	}
	var key nkeys.KeyPair
	if o.NKeyFile != "" {
		var err error
		if key, err = natslink.LoadSeed(o.NKeyFile); err != nil {
			return nil, err
		}
	} else {
		o.Log.Warn().Msg("no --nkey-file: connecting to the NATS cluster without credentials; a cluster that admits anyone lets any client speak as any agent")
	}
	return natslink.Dialer(o.BrokerURL, key, conf, stats, nil, o.Log), nil
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
	if id == nil && natslink.IsURL(o.BrokerURL) {
		// The NATS servers admit the agent by its NKey, not the token.
		if o.Name == "" {
			return nil, errors.New("an agent on a NATS cluster (--broker nats://...) needs --name, the name its --nkey-file was made for")
		}
		return certs.Client(o.CAFile)
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
