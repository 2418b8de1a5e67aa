package roles

import (
	"context"
	"fmt"
	"net"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/broker"
)

// BrokerOptions are a standalone broker's settings.
type BrokerOptions struct {
	DataDir string
	Listen  string
	Token   string // empty: the token under DataDir, created if missing
	Log     zerolog.Logger
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
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fmt.Errorf("broker --listen %s: %w", o.Listen, err)
	}
	o.Log.Info().Str("listen", ln.Addr().String()).Msg("broker listening")
	return broker.NewServer(token, o.Log.With().Str("role", "broker").Logger()).Serve(ctx, ln)
}
