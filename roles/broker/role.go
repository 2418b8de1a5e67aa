package broker

import (
	"context"
	"crypto/tls"
	"errors"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/roles"
	"github.com/peerlink/peerlink/web/certs"
)

// Options are a standalone broker's settings, from its command line.
type Options struct {
	DataDir string
	Listen  string
	Token   string // empty: the token under DataDir, created if missing
	// TLSCert and TLSKey, both or neither, make the broker serve wss://.
	TLSCert, TLSKey string
	// ClientCA, the hub's CA (HUBDATA/tls/ca.pem), has the broker admit
	// the hub and agents by the client certificates that CA signed, and
	// no peer by the token; it needs TLSCert and TLSKey.
	ClientCA string
	Log      zerolog.Logger
}

// Run runs a standalone broker until ctx ends.
func Run(ctx context.Context, o Options) error {
	if err := roles.DataDir(o.DataDir); err != nil {
		return err
	}
	var conf *tls.Config
	if o.TLSCert != "" || o.TLSKey != "" {
		var err error
		if conf, err = certs.Server(o.TLSCert, o.TLSKey); err != nil {
			return err
		}
	}
	srv, err := newStandalone(conf, o)
	if err != nil {
		return err
	}
	ln, err := roles.Listen("broker --listen", o.Listen, conf)
	if err != nil {
		return err
	}
	o.Log.Info().Str("listen", ln.Addr().String()).Str("url", roles.Scheme("ws", conf)+roles.Dialable(ln.Addr())).Msg("broker listening")
	return srv.Serve(ctx, ln)
}

// newStandalone is the broker o asks for: admitting peers by the
// certificates of the hub's CA with ClientCA (conf then asks clients for
// one), else by the token.
func newStandalone(conf *tls.Config, o Options) (*Server, error) {
	log := o.Log.With().Str("role", "broker").Logger()
	if o.ClientCA != "" {
		if conf == nil {
			return nil, errors.New("--client-ca needs --tls-cert and --tls-key: client certificates are checked in the TLS handshake " +
				"(peerlink broker-cert create --name THIS-HOST --out DIR makes them)")
		}
		if o.Token != "" {
			return nil, errors.New("--client-ca admits the hub and agents by certificate only: drop --token and --token-file")
		}
		ca, err := certs.LoadCA(o.ClientCA)
		if err != nil {
			return nil, err
		}
		certs.RequireClientCerts(conf, ca)
		creds, err := LoadCredentials(o.DataDir)
		if err != nil {
			return nil, err
		}
		srv := NewServer("", log)
		srv.SetCredentials(creds)
		o.Log.Info().Str("client_ca", o.ClientCA).Msg("admitting the hub and agents by their certificates; the shared token admits nobody")
		return srv, nil
	}
	token := o.Token
	if token == "" {
		t, created, err := roles.LoadOrCreateToken(o.DataDir)
		if err != nil {
			return nil, err
		}
		if created {
			o.Log.Info().Str("file", roles.TokenFile(o.DataDir)).Msg("created the broker token: the hub and agents need the same token")
		}
		token = t
	}
	return NewServer(token, log), nil
}
