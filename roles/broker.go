package roles

import (
	"context"
	"crypto/tls"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/broker"
	"github.com/peerlink/peerlink/certs"
)

// BrokerOptions are a standalone broker's settings.
type BrokerOptions struct {
	DataDir string
	Listen  string
	Token   string // empty: the token under DataDir, created if missing
	// TLSCert and TLSKey, both or neither, make the broker serve wss://.
	TLSCert, TLSKey string
	Log             zerolog.Logger
}

// Broker runs a standalone broker until ctx ends.
func Broker(ctx context.Context, o BrokerOptions) error {
	if err := DataDir(o.DataDir); err != nil {
		return err
	}
	token := o.Token
	if token == "" {
		t, created, err := LoadOrCreateToken(o.DataDir)
		if err != nil {
			return err
		}
		if created {
			o.Log.Info().Str("file", TokenFile(o.DataDir)).Msg("created the broker token: the hub and agents need the same token")
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
	ln, err := listen("broker --listen", o.Listen, conf)
	if err != nil {
		return err
	}
	o.Log.Info().Str("listen", ln.Addr().String()).Str("url", scheme("ws", conf)+dialable(ln.Addr())).Msg("broker listening")
	return broker.NewServer(token, o.Log.With().Str("role", "broker").Logger()).Serve(ctx, ln)
}
