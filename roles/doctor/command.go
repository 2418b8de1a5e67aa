package doctor

import (
	"errors"

	"github.com/urfave/cli/v2"

	"github.com/peerlink/peerlink/roles"
)

// Command is `peerlink doctor`.
func Command() *cli.Command {
	return &cli.Command{
		Name:  "doctor",
		Usage: "check this host for what peerlink needs: watch limits, fanotify, leases, the immutable flag, free space, the hub and broker, the clock",
		Description: "Run it on a file server as the agent's user (or on the hub's host) before starting sessions. " +
			"Each check prints ok, warn or fail and what to do; the exit code is 1 if any check failed.",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "root", Usage: "a folder this agent serves (repeatable)"},
			&cli.StringFlag{Name: "name", Usage: "this agent's name: with --hub and a token, the roots the hub's sessions give it are checked too", EnvVars: []string{"PEERLINK_NAME"}},
			&cli.StringFlag{Name: "hub", Usage: "the hub's console/API URL, e.g. http://hub:8181", EnvVars: []string{"PEERLINK_HUB"}},
			&cli.StringFlag{Name: "broker", Usage: "the broker's URL agents use, ws://HUB:61617, or a NATS cluster's, nats://HOST:4222[,nats://HOST2:4222...] (tls:// for TLS)", EnvVars: []string{"PEERLINK_BROKER"}},
			&cli.StringFlag{Name: "nkey-file", Usage: "with --broker nats://...: the agent's NATS key (NAME.nk), to check the servers take it as --name's", EnvVars: []string{"PEERLINK_NKEY_FILE"}},
			roles.TokenFileFlag(),
			&cli.StringFlag{Name: "token", Usage: "an API token of the hub (a viewer's is enough), to find this agent's roots; --token-file keeps it off the command line", EnvVars: []string{"PEERLINK_TOKEN"}},
			roles.CAFlag("the CA certificates (PEM) that signed the hub's and broker's certificates"),
			&cli.DurationFlag{Name: "timeout", Value: 5e9, Usage: "how long each network check may take"},
			&cli.BoolFlag{Name: "json", Usage: "print the results as JSON"},
		},
		Action: func(c *cli.Context) error {
			log, err := roles.Logger(c)
			if err != nil {
				return err
			}
			token, err := roles.Token(c, log)
			if err != nil {
				return err
			}
			results := Run(c.Context, Options{Roots: c.StringSlice("root"), Name: c.String("name"),
				Hub: c.String("hub"), Broker: c.String("broker"), Token: token, CAFile: c.String("ca"), NKeyFile: c.String("nkey-file"), Timeout: c.Duration("timeout")})
			if err := Print(c.App.Writer, results, c.Bool("json")); err != nil {
				return err
			}
			if Failed(results) {
				return errors.New("a check failed (see above)")
			}
			return nil
		},
	}
}
