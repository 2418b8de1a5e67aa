package demo

import (
	"github.com/urfave/cli/v2"

	"github.com/peerlink/peerlink/roles"
	"github.com/peerlink/peerlink/roles/hub"
)

// Command is `peerlink demo`.
func Command(version string) *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "run a hub, its broker and two agents in one process, with a session between two local folders",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: "./peerlink-demo", Usage: "folder for the demo's sites and state"},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8181", Usage: "address of the console and REST API"},
			&cli.StringFlag{Name: "broker-listen", Value: "127.0.0.1:61617", Usage: "address of the broker"},
			&cli.StringFlag{Name: "admin-password-file", Usage: "set the console's admin password to the first line of this file (8 characters or more); " +
				"without it the demo makes a new one at every start and prints it with the commands to try"},
		},
		Action: func(c *cli.Context) error {
			log, err := roles.Logger(c)
			if err != nil {
				return err
			}
			pw, err := hub.PasswordFromFlag(c)
			if err != nil {
				return err
			}
			ctx, stop := roles.SignalContext(c)
			defer stop()
			return Run(ctx, Options{Dir: c.String("dir"), Listen: c.String("listen"),
				BrokerListen: c.String("broker-listen"), Version: version, Log: log, Out: c.App.Writer,
				AdminPassword: pw, AdminPasswordFile: c.String("admin-password-file")})
		},
	}
}
