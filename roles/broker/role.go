package broker

import (
	"context"
	"crypto/tls"

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
	Log             zerolog.Logger
}

// Run runs a standalone broker until ctx ends.
func Run(ctx context.Context, o Options) error {
	if err := roles.DataDir(o.DataDir); err != nil {
		return err
	}
	token := o.Token
	if token == "" {
		t, created, err := roles.LoadOrCreateToken(o.DataDir)
		if err != nil {
			return err
		}
		if created {
			o.Log.Info().Str("file", roles.TokenFile(o.DataDir)).Msg("created the broker token: the hub and agents need the same token")
		}
		token = t
	}
	var conf *tls.Config
	if o.TLSCert != "" || o.TLSKey != "" {
		var err error
		if conf, err = certs.Server(o.TLSCert, o.TLSKey); err != nil {
			return err
		}
	}
	ln, err := roles.Listen("broker --listen", o.Listen, conf)
	if err != nil {
		return err
	}
	o.Log.Info().Str("listen", ln.Addr().String()).Str("url", roles.Scheme("ws", conf)+roles.Dialable(ln.Addr())).Msg("broker listening")
	return NewServer(token, o.Log.With().Str("role", "broker").Logger()).Serve(ctx, ln)
}
