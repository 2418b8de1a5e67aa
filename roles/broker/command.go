package broker

import (
	"github.com/urfave/cli/v2"

	"github.com/peerlink/peerlink/roles"
)

// Command is `peerlink broker`.
func Command() *cli.Command {
	return &cli.Command{
		Name:  "broker",
		Usage: "run a standalone broker (the hub embeds one unless given --broker-url)",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "data", Usage: "folder for the broker's token", Required: true, EnvVars: []string{"PEERLINK_DATA"}},
			&cli.StringFlag{Name: "listen", Value: ":61617", Usage: "address to listen on"},
			&cli.StringFlag{Name: "token", Usage: "token peers must present (default: DATA/token, created if missing); --token-file keeps it off the command line", EnvVars: []string{"PEERLINK_TOKEN"}},
			roles.TokenFileFlag(),
			&cli.StringFlag{Name: "client-ca", Usage: "the hub's CA (HUBDATA/tls/ca.pem): admit the hub and agents by the certificates it signed, " +
				"and revoked ones never (needs --tls-cert and --tls-key, from `peerlink broker-cert create`)"},
		}, roles.TLSFlags("the broker")...),
		Action: func(c *cli.Context) error {
			log, err := roles.Logger(c)
			if err != nil {
				return err
			}
			token, err := roles.Token(c, log)
			if err != nil {
				return err
			}
			ctx, stop := roles.SignalContext(c)
			defer stop()
			return Run(ctx, Options{DataDir: c.String("data"), Listen: c.String("listen"), Token: token, Log: log,
				TLSCert: c.String("tls-cert"), TLSKey: c.String("tls-key"), ClientCA: c.String("client-ca")})
		},
	}
}
