package natslink

import (
	"fmt"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/peerlink/peerlink/roles"
)

// Command is `peerlink nats-config`, run where the hub runs: it writes the
// NATS servers' users for the hub and the agents named, and each agent's
// key, leaving out the agents the hub revoked.
func Command() *cli.Command {
	return &cli.Command{
		Name:  "nats-config",
		Usage: "write the NATS users (peerlink-users.conf) and agents' keys (NAME.nk) for a hub whose --broker-url is a NATS cluster",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Usage: "the hub's --data folder, which keeps the secret the keys derive from", Required: true, EnvVars: []string{"PEERLINK_DATA"}},
			&cli.StringSliceFlag{Name: "agent", Usage: "an agent's name (repeat the flag for every agent; an agent left out is refused by the cluster)"},
			&cli.StringFlag{Name: "out", Usage: "folder to write into", Required: true},
		},
		Action: func(c *cli.Context) error {
			if err := roles.DataDir(c.String("data")); err != nil {
				return err
			}
			secret, err := LoadOrCreateSecret(c.String("data"))
			if err != nil {
				return err
			}
			revoked, err := LoadRevoked(c.String("data"))
			if err != nil {
				return err
			}
			var agents []string
			for _, name := range c.StringSlice("agent") {
				if slices.Contains(revoked, name) {
					fmt.Fprintf(c.App.Writer, "agent %s was revoked (peerlink agents revoke): left out, so the NATS servers refuse it once reloaded with this file\n", name)
					continue
				}
				agents = append(agents, name)
			}
			files, err := WriteConfig(secret, c.String("out"), agents)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "wrote %s: copy it beside every NATS server's configuration file, include it there by name "+
				"(include peerlink-users.conf: nats-server reads include paths relative to that file) and reload them (nats-server --signal reload)\n", files[0])
			for _, f := range files[1:] {
				fmt.Fprintf(c.App.Writer, "wrote %s: copy it to that agent's host (mode 0600) and run the agent with --nkey-file FILE\n", f)
			}
			return nil
		},
	}
}
