package agent

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/peerlink/peerlink/roles"
	"github.com/peerlink/peerlink/sync/watch"
)

// Command is `peerlink agent`.
func Command(version string) *cli.Command {
	return &cli.Command{
		Name:  "agent",
		Usage: "run an agent on a file server",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "join", Usage: "enrol with the hub using this join code (from `peerlink join-code create --name HOST`), with --hub; needed once"},
			&cli.StringFlag{Name: "hub", Usage: "with --join: the hub's console and API address, https://HUB:8181"},
			&cli.StringFlag{Name: "name", Usage: "this host's name in sessions; an enrolled agent's comes from its join code", EnvVars: []string{"PEERLINK_NAME"}},
			&cli.StringFlag{Name: "broker", Usage: "the broker's URL, wss://HUB:61617, or a NATS cluster's, nats://HOST:4222[,nats://HOST2:4222...]; an enrolled agent's comes from its join", EnvVars: []string{"PEERLINK_BROKER"}},
			roles.CAFlag("the CA certificates (PEM) that signed the broker's certificate, on top of the system's"),
			roles.TokenFileFlag(),
			&cli.StringFlag{Name: "nkey-file", Usage: "with --broker nats://...: this agent's NATS key, NAME.nk from `peerlink nats-config` where the hub runs", EnvVars: []string{"PEERLINK_NKEY_FILE"}},
			// Known, so that it is refused with the reason rather than as
			// an unknown flag; no environment variable: PEERLINK_TOKEN is
			// read below, and is welcome.
			&cli.StringFlag{Name: "token", Hidden: true, Usage: "refused: use --token-file or PEERLINK_TOKEN"},
			&cli.StringFlag{Name: "data", Usage: "folder for the agent's state (agent.db)", EnvVars: []string{"PEERLINK_DATA"}},
			&cli.DurationFlag{Name: "rescan-interval", Value: DefaultRescanInterval,
				Usage: "how often a session's root is scanned once the file system watch limit (fs.inotify.max_user_watches) keeps the agent from watching all of it"},
			// For tests only, hence hidden: fakes a host whose clock is off
			// (the e2e clock skew test) by shifting the time the agent
			// reports to the hub's clock measurement; file times are not
			// touched.
			&cli.DurationFlag{Name: "clock-offset", Hidden: true, Usage: "tests only: shift the clock this agent reports to the hub by this much"},
			// For tests only, hence hidden: a scan that fails half-way
			// (faultscan.go), which nothing real makes happen on demand.
			&cli.StringFlag{Name: "fault-scan", Hidden: true, Usage: "tests only: while this file exists, holding a number N, whole scans fail after N entries"},
			&cli.StringFlag{Name: "watch-tree", Value: "auto",
				Usage: "where changes to the roots' trees come from: fanotify (root or CAP_SYS_ADMIN with CAP_DAC_READ_SEARCH, Linux 5.17+: no watch per folder, no watch limit), inotify (one watch per folder), or auto (fanotify where it works)"},
			roles.MetricsFlag(),
		},
		Subcommands: []*cli.Command{unlockCommand()},
		Action: func(c *cli.Context) error {
			// Checked here, not by the flags: urfave/cli would ask them of
			// `agent unlock` too.
			if err := required(c, "data"); err != nil {
				return err
			}
			log, err := roles.Logger(c)
			if err != nil {
				return err
			}
			if c.IsSet("token") {
				// An agent runs for months on a file server that many
				// people use, and a command line is theirs to read.
				return errors.New("--token on the agent's command line is refused: every user of this host can read a command line (ps, /proc/PID/cmdline); " +
					"give --token-file FILE (a copy of the hub's DATA/token, mode 0600) or set PEERLINK_TOKEN")
			}
			token := os.Getenv("PEERLINK_TOKEN")
			if p := c.String("token-file"); p != "" {
				if token, err = roles.ReadTokenFile(p, log); err != nil {
					return err
				}
			}
			if c.Duration("rescan-interval") <= 0 {
				return fmt.Errorf("--rescan-interval %s: want a positive duration, e.g. 30s", c.Duration("rescan-interval"))
			}
			tree, err := watch.ParseTree(c.String("watch-tree"))
			if err != nil {
				return fmt.Errorf("--watch-tree: %w", err)
			}
			ctx, stop := roles.SignalContext(c)
			defer stop()
			agentMemoryLimit()
			return Run(ctx, Options{Name: c.String("name"), BrokerURL: c.String("broker"), Token: token,
				Join: c.String("join"), HubURL: c.String("hub"),
				DataDir: c.String("data"), Version: version, Log: log, RescanInterval: c.Duration("rescan-interval"), CAFile: c.String("ca"), NKeyFile: c.String("nkey-file"),
				ClockOffset: c.Duration("clock-offset"), MetricsListen: c.String("metrics-listen"), WatchTree: tree, FaultScan: c.String("fault-scan")})
		},
	}
}

// unlockCommand is `peerlink agent unlock`: a stopped agent's locks undone
// offline.
func unlockCommand() *cli.Command {
	return &cli.Command{
		Name:  "unlock",
		Usage: "give back their write bits (and remove the immutable flag) to every copy a stopped agent left locked, e.g. on a host whose agent will not run again",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "data", Usage: "the agent's --data folder", Required: true, EnvVars: []string{"PEERLINK_DATA"}},
		},
		Action: func(c *cli.Context) error {
			log, err := roles.Logger(c)
			if err != nil {
				return err
			}
			n, err := Unlock(c.String("data"), log)
			if n > 0 || err == nil {
				fmt.Fprintf(c.App.Writer, "%d locked cop%s released\n", n, map[bool]string{true: "y", false: "ies"}[n == 1])
			}
			return err
		},
	}
}

// required fails as urfave/cli does for required flags, naming those not
// set.
func required(c *cli.Context, names ...string) error {
	var missing []string
	for _, n := range names {
		if !c.IsSet(n) {
			missing = append(missing, n)
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("Required flag %q not set", missing[0])
	}
	return fmt.Errorf("Required flags %q not set", strings.Join(missing, ", "))
}
