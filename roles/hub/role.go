package hub

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"

	"github.com/peerlink/peerlink/wire"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/peerlink/peerlink/roles"
	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/roles/broker/natslink"
	"github.com/peerlink/peerlink/web"
	"github.com/peerlink/peerlink/web/certs"
)

// Options are the hub role's settings, from its command line.
type Options struct {
	DataDir      string
	Listen       string // console and REST API
	BrokerListen string // embedded broker; ignored with BrokerURL
	BrokerURL    string // an external broker instead of the embedded one
	// The console and API serve HTTPS and the embedded broker wss://, by
	// default with a certificate the hub's own CA signs for TLSNames (or
	// the defaults, defaultNames). TLSCert and TLSKey, both or neither,
	// replace that certificate. InsecurePlain serves plain text instead,
	// on loopback only unless InsecurePlainNonLoopback.
	TLSCert, TLSKey                         string
	TLSNames                                []string
	InsecurePlain, InsecurePlainNonLoopback bool
	// CAFile adds CAs to the system's roots for a wss:// BrokerURL.
	CAFile  string
	Version string
	Log     zerolog.Logger
	// AdminPassword, if set, becomes the console's password (replacing the
	// stored one). Without it, and with none stored, one is generated and
	// printed once to Stderr.
	AdminPassword string
	Stderr        io.Writer // nil means os.Stderr
	// MetricsListen, if set, serves GET /metrics there without
	// authentication, for a Prometheus on the same host or network; the
	// API port serves it with the API's token either way.
	MetricsListen string
	// Directory, if set, signs in people without a local account
	// (--ldap-url and the other --ldap-* flags).
	Directory web.Directory
	// Ready, if set, is called once the listeners are open.
	Ready func(Ready)
}

// Ready is what a hub tells Options.Ready once it serves.
type Ready struct {
	API       string // host:port of the console and API
	Scheme    string // "https" or "http"
	BrokerURL string
	Token     string
	CAFile    string // the file the CLI trusts the hub by; empty without TLS
	// JoinCode makes a join code, as `peerlink join-code create` does;
	// nil without TLS.
	JoinCode func(name string) (string, error)
}

// Run runs a hub, with its embedded broker unless told to use another,
// and the console and REST API, until ctx ends.
func Run(ctx context.Context, o Options) error {
	if err := roles.DataDir(o.DataDir); err != nil {
		return err
	}
	token, created, err := roles.LoadOrCreateToken(o.DataDir)
	if err != nil {
		return err
	}
	if created {
		o.Log.Info().Str("file", roles.TokenFile(o.DataDir)).Msg("created the hub token: agents and the CLI need it (--token-file FILE or PEERLINK_TOKEN)")
	}
	upgraded := !created && !fileExists(certs.CAFile(TLSDir(o.DataDir)))
	ht, err := setupTLS(o)
	if err != nil {
		return err
	}
	serverTLS := ht.server
	var brokerTLS *tls.Config
	switch {
	case o.BrokerURL != "":
		if brokerTLS, err = standaloneTLS(ht, o.CAFile); err != nil {
			return err
		}
	case o.CAFile != "":
		return errors.New("--ca is for a standalone broker's certificate (--broker-url wss://...); the hub trusts its embedded broker by its own certificate")
	}
	apiLn, err := roles.Listen("console and API --listen", o.Listen, serverTLS)
	if err != nil {
		return err
	}
	defer apiLn.Close()
	var metricsLn net.Listener
	if o.MetricsListen != "" {
		if metricsLn, err = roles.MetricsListener(o.MetricsListen, o.Log); err != nil {
			return err
		}
		defer metricsLn.Close()
	}

	brokerURL := o.BrokerURL
	var bLn net.Listener
	if brokerURL == "" {
		bLn, err = roles.Listen("embedded broker --broker-listen", o.BrokerListen, ht.brokerServer())
		if err != nil {
			return err
		}
		defer bLn.Close()
		brokerURL = roles.Scheme("ws", serverTLS) + roles.Dialable(bLn.Addr()) + "/ws"
		if serverTLS != nil {
			// The hub reaches its embedded broker over loopback, by an
			// address its certificate does not name (the certificate names
			// the hub as agents dial it): trust exactly that certificate.
			if brokerTLS, err = certs.Pinned(serverTLS); err != nil {
				return err
			}
			// and connect with a certificate of the hub's own, which the
			// broker takes the hub's identity from.
			pair, err := ht.ca.ClientPair(certs.RoleHub, wire.HubName)
			if err != nil {
				return err
			}
			brokerTLS.Certificates = []tls.Certificate{pair}
		}
	}

	var dial broker.Dialer
	var natsStats *natslink.Stats
	var natsRevoked *natslink.Revoked
	if natslink.IsURL(brokerURL) {
		natsStats, natsRevoked = &natslink.Stats{}, &natslink.Revoked{}
		if dial, err = natsDialer(o, brokerTLS, natsStats, natsRevoked); err != nil {
			return err
		}
	}
	h, err := Open(Config{DataDir: o.DataDir, BrokerURL: brokerURL, BrokerTLS: brokerTLS, Dial: dial, NATSRevoked: natsRevoked, Token: token, Version: o.Version, Log: o.Log})
	if err != nil {
		return err
	}
	if natsStats != nil {
		h.metrics.WatchNATS(natsStats.Metrics)
	}
	if err := setUpPeople(h, o); err != nil {
		h.Close()
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	if o.BrokerURL != "" {
		h.useStandalone(ht, o.BrokerURL)
	}
	if bLn != nil {
		srv, err := embeddedBroker(h, ht, brokerTLS, bLn, token, upgraded, o)
		if err != nil {
			h.Close()
			return err
		}
		h.watchBroker(srv)
		g.Go(func() error { return srv.Serve(ctx, bLn) })
		o.Log.Info().Str("listen", bLn.Addr().String()).Str("url", brokerURL).Msg("embedded broker listening")
	}
	g.Go(func() error { return h.Run(ctx) })
	serveWeb(ctx, g, h, apiLn, metricsLn, token, o)
	if serverTLS != nil && o.TLSCert == "" {
		o.Log.Info().Str("ca", certs.CAFile(TLSDir(o.DataDir))).Msg("the CLI trusts this hub with --ca FILE or PEERLINK_CA=FILE naming this CA")
	}
	o.Log.Info().Str("url", roles.Scheme("http", serverTLS)+roles.Dialable(apiLn.Addr())).Msg("console and REST API listening")
	if o.Ready != nil {
		rd := Ready{API: roles.Dialable(apiLn.Addr()), Scheme: "http", BrokerURL: brokerURL, Token: token}
		if serverTLS != nil {
			rd.Scheme, rd.CAFile = "https", certs.CAFile(TLSDir(o.DataDir))
		}
		if h.enrol != nil {
			rd.JoinCode = func(name string) (string, error) {
				jc, err := h.CreateJoinCode(name, "", "demo")
				return jc.Code, err
			}
		}
		o.Ready(rd)
	}
	return g.Wait()
}

// natsDialer connects the hub to the NATS cluster of its --broker-url
// with the NKey it derives from its NATS secret (`peerlink nats-config`
// writes the matching NATS users), counting in stats what it carries.
func natsDialer(o Options, conf *tls.Config, stats *natslink.Stats, revoked *natslink.Revoked) (broker.Dialer, error) {
	secret, err := natslink.LoadOrCreateSecret(o.DataDir)
	if err != nil {
		return nil, err
	}
	key, err := natslink.KeyFor(secret, wire.HubName)
	if err != nil {
		return nil, err
	}
	o.Log.Info().Str("broker", o.BrokerURL).Msg("using a NATS cluster as the broker: its servers admit the hub and agents by the users `peerlink nats-config --data THIS-DATA --agent NAME ...` writes")
	return natslink.Dialer(o.BrokerURL, key, conf, stats, revoked, o.Log), nil
}

// serveWeb serves the console and REST API on apiLn and, if metricsLn is
// set, the metrics without authentication on it, in g until ctx ends.
func serveWeb(ctx context.Context, g *errgroup.Group, h *Hub, apiLn, metricsLn net.Listener, token string, o Options) {
	log := o.Log
	if metricsLn != nil {
		g.Go(func() error { return roles.ServeMetrics(ctx, metricsLn, h.Metrics()) })
	}
	srv := web.New(h, web.Config{Token: token, Log: log, Metrics: h.Metrics(), Agents: h, Directory: o.Directory})
	g.Go(func() error {
		defer srv.Close() // the live feeds, which Shutdown leaves open
		return roles.ServeHTTP(ctx, apiLn, roles.ServedBy(wire.ServedByHub, srv))
	})
}
