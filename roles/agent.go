package roles

import (
	"context"
	"errors"
	"time"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/agent"
	"github.com/peerlink/peerlink/certs"
)

// AgentOptions are an agent's settings.
type AgentOptions struct {
	Name, BrokerURL, Token, DataDir, Version string
	Log                                      zerolog.Logger
	RescanInterval                           time.Duration // 0: agent.DefaultRescanInterval
	CAFile                                   string        // more CAs to trust for a wss:// broker
}

// Agent runs an agent until ctx ends.
func Agent(ctx context.Context, o AgentOptions) error {
	if o.Token == "" {
		return errors.New("--token is required: copy it from the hub's DATA/token file (or set PEERLINK_TOKEN)")
	}
	conf, err := certs.Client(o.CAFile)
	if err != nil {
		return err
	}
	if err := DataDir(o.DataDir); err != nil {
		return err
	}
	a, err := agent.New(agent.Config{Name: o.Name, BrokerURL: o.BrokerURL, TLS: conf, Token: o.Token, DataDir: o.DataDir, Version: o.Version, Log: o.Log,
		RescanInterval: o.RescanInterval})
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
