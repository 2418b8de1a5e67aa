// Command peerlink is the one binary of peerlink: hub, broker, agent, the
// demo, and the command-line client of the hub's REST API.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/peerlink/peerlink/agent"
	"github.com/peerlink/peerlink/roles"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	stopProfile := startProfile()
	app := newApp()
	err := app.Run(flagsFirst(app, os.Args))
	stopProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "peerlink:", err)
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			os.Exit(ec.ExitCode())
		}
		os.Exit(1)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:    "peerlink",
		Usage:   "keep folders identical across file servers, one editor per file at a time",
		Version: version,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error", EnvVars: []string{"PEERLINK_LOG_LEVEL"}},
		},
		HideVersion:          false,
		EnableBashCompletion: true,
		Commands: []*cli.Command{
			hubCommand(), brokerCommand(), agentCommand(), demoCommand(),
			sessionCommand(), conflictsCommand(), locksCommand(), statusCommand(),
			{Name: "version", Usage: "print the version", Action: func(c *cli.Context) error {
				fmt.Fprintf(c.App.Writer, "peerlink %s\n", version)
				return nil
			}},
		},
	}
}

// logger logs for people on a terminal and as JSON lines otherwise.
func logger(c *cli.Context) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(c.String("log-level"))
	if err != nil || lvl == zerolog.NoLevel {
		return zerolog.Logger{}, fmt.Errorf("--log-level %q: use debug, info, warn or error", c.String("log-level"))
	}
	var w io.Writer = os.Stderr
	if term.IsTerminal(int(os.Stderr.Fd())) {
		w = zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly}
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger(), nil
}

// signalContext ends on SIGINT or SIGTERM.
func signalContext(c *cli.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
}

func hubCommand() *cli.Command {
	return &cli.Command{
		Name:  "hub",
		Usage: "run the hub: sessions, conflict engine, console and REST API, embedded broker",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "data", Usage: "folder for the hub's state (hub.db, token)", Required: true, EnvVars: []string{"PEERLINK_DATA"}},
			&cli.StringFlag{Name: "listen", Value: ":8181", Usage: "address of the console and REST API"},
			&cli.StringFlag{Name: "broker-listen", Value: ":61617", Usage: "address of the embedded broker"},
			&cli.StringFlag{Name: "broker-url", Usage: "use this standalone broker instead of the embedded one (ws://host:61617 or wss://)"},
			// No PEERLINK_CA here: the CLI on the hub's machine may use it.
			&cli.StringFlag{Name: "ca", Usage: "the CA certificates (PEM) that signed a standalone broker's certificate, on top of the system's (for a self-signed deployment)"},
			adminPasswordFlag(),
		}, tlsFlags("the console, the REST API and the embedded broker")...),
		Action: func(c *cli.Context) error {
			log, err := logger(c)
			if err != nil {
				return err
			}
			pw, err := adminPassword(c)
			if err != nil {
				return err
			}
			ctx, stop := signalContext(c)
			defer stop()
			return roles.Hub(ctx, roles.HubOptions{DataDir: c.String("data"), Listen: c.String("listen"),
				BrokerListen: c.String("broker-listen"), BrokerURL: c.String("broker-url"), Version: version, Log: log,
				AdminPassword: pw, TLSCert: c.String("tls-cert"), TLSKey: c.String("tls-key"), CAFile: c.String("ca")})
		},
	}
}

func brokerCommand() *cli.Command {
	return &cli.Command{
		Name:  "broker",
		Usage: "run a standalone broker (the hub embeds one unless given --broker-url)",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "data", Usage: "folder for the broker's token", Required: true, EnvVars: []string{"PEERLINK_DATA"}},
			&cli.StringFlag{Name: "listen", Value: ":61617", Usage: "address to listen on"},
			&cli.StringFlag{Name: "token", Usage: "token peers must present (default: DATA/token, created if missing)", EnvVars: []string{"PEERLINK_TOKEN"}},
		}, tlsFlags("the broker")...),
		Action: func(c *cli.Context) error {
			log, err := logger(c)
			if err != nil {
				return err
			}
			ctx, stop := signalContext(c)
			defer stop()
			return roles.Broker(ctx, roles.BrokerOptions{DataDir: c.String("data"), Listen: c.String("listen"), Token: c.String("token"), Log: log,
				TLSCert: c.String("tls-cert"), TLSKey: c.String("tls-key")})
		},
	}
}

func agentCommand() *cli.Command {
	return &cli.Command{
		Name:  "agent",
		Usage: "run an agent on a file server",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "name", Usage: "this host's name in sessions (letters, digits, - _ .)", Required: true, EnvVars: []string{"PEERLINK_NAME"}},
			&cli.StringFlag{Name: "broker", Usage: "the broker's URL, ws://HUB:61617 (wss:// if the hub serves TLS)", Required: true, EnvVars: []string{"PEERLINK_BROKER"}},
			caFlag("the CA certificates (PEM) that signed the broker's certificate, on top of the system's"),
			&cli.StringFlag{Name: "token", Usage: "the hub's token (from the hub's DATA/token)", EnvVars: []string{"PEERLINK_TOKEN"}},
			&cli.StringFlag{Name: "data", Usage: "folder for the agent's state (agent.db)", Required: true, EnvVars: []string{"PEERLINK_DATA"}},
			&cli.DurationFlag{Name: "rescan-interval", Value: agent.DefaultRescanInterval,
				Usage: "how often a session's root is scanned once the file system watch limit (fs.inotify.max_user_watches) keeps the agent from watching all of it"},
		},
		Action: func(c *cli.Context) error {
			log, err := logger(c)
			if err != nil {
				return err
			}
			if c.Duration("rescan-interval") <= 0 {
				return fmt.Errorf("--rescan-interval %s: want a positive duration, e.g. 30s", c.Duration("rescan-interval"))
			}
			ctx, stop := signalContext(c)
			defer stop()
			agentMemoryLimit()
			return roles.Agent(ctx, roles.AgentOptions{Name: c.String("name"), BrokerURL: c.String("broker"), Token: c.String("token"),
				DataDir: c.String("data"), Version: version, Log: log, RescanInterval: c.Duration("rescan-interval"), CAFile: c.String("ca")})
		},
	}
}

func demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "run a hub, its broker and two agents in one process, with a session between two local folders",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: "./peerlink-demo", Usage: "folder for the demo's sites and state"},
			&cli.StringFlag{Name: "listen", Value: "127.0.0.1:8181", Usage: "address of the console and REST API"},
			&cli.StringFlag{Name: "broker-listen", Value: "127.0.0.1:61617", Usage: "address of the broker"},
			adminPasswordFlag(),
		},
		Action: func(c *cli.Context) error {
			log, err := logger(c)
			if err != nil {
				return err
			}
			pw, err := adminPassword(c)
			if err != nil {
				return err
			}
			ctx, stop := signalContext(c)
			defer stop()
			return roles.Demo(ctx, roles.DemoOptions{Dir: c.String("dir"), Listen: c.String("listen"),
				BrokerListen: c.String("broker-listen"), Version: version, Log: log, Out: c.App.Writer,
				AdminPassword: pw, AdminPasswordFile: c.String("admin-password-file")})
		},
	}
}

// tlsFlags are a server's certificate and key; what names what they serve.
func tlsFlags(what string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "tls-cert", Usage: "serve TLS on " + what + " with this certificate (PEM, leaf first); needs --tls-key"},
		&cli.StringFlag{Name: "tls-key", Usage: "the private key (PEM) of --tls-cert"},
	}
}

// caFlag is a client's extra trusted CAs.
func caFlag(usage string) cli.Flag {
	return &cli.StringFlag{Name: "ca", Usage: usage + " (for a self-signed deployment)", EnvVars: []string{"PEERLINK_CA"}}
}

func adminPasswordFlag() cli.Flag {
	return &cli.StringFlag{Name: "admin-password-file", Usage: "set the console's admin password to the first line of this file (8 characters or more); " +
		"without it a password is generated and printed once at first start"}
}

// adminPassword reads --admin-password-file, if given.
func adminPassword(c *cli.Context) (string, error) {
	if f := c.String("admin-password-file"); f != "" {
		return roles.ReadPasswordFile(f)
	}
	return "", nil
}
