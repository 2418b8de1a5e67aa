package agent

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/peerlink/peerlink/roles"
)

// Command is `peerlink agent`.
func Command(version string) *cli.Command {
	return &cli.Command{
		Name:  "agent",
		Usage: "run an agent on a file server",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Usage: "this host's name in sessions (letters, digits, - _ .)", Required: true, EnvVars: []string{"PEERLINK_NAME"}},
			&cli.StringFlag{Name: "broker", Usage: "the broker's URL, ws://HUB:61617 (wss:// if the hub serves TLS)", Required: true, EnvVars: []string{"PEERLINK_BROKER"}},
			roles.CAFlag("the CA certificates (PEM) that signed the broker's certificate, on top of the system's"),
			&cli.StringFlag{Name: "token", Usage: "the hub's token (from the hub's DATA/token)", EnvVars: []string{"PEERLINK_TOKEN"}},
			&cli.StringFlag{Name: "data", Usage: "folder for the agent's state (agent.db)", Required: true, EnvVars: []string{"PEERLINK_DATA"}},
			&cli.DurationFlag{Name: "rescan-interval", Value: DefaultRescanInterval,
				Usage: "how often a session's root is scanned once the file system watch limit (fs.inotify.max_user_watches) keeps the agent from watching all of it"},
		},
		Action: func(c *cli.Context) error {
			log, err := roles.Logger(c)
			if err != nil {
				return err
			}
			if c.Duration("rescan-interval") <= 0 {
				return fmt.Errorf("--rescan-interval %s: want a positive duration, e.g. 30s", c.Duration("rescan-interval"))
			}
			ctx, stop := roles.SignalContext(c)
			defer stop()
			agentMemoryLimit()
			return Run(ctx, Options{Name: c.String("name"), BrokerURL: c.String("broker"), Token: c.String("token"),
				DataDir: c.String("data"), Version: version, Log: log, RescanInterval: c.Duration("rescan-interval"), CAFile: c.String("ca")})
		},
	}
}
