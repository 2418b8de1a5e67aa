package hub

import (
	"github.com/urfave/cli/v2"

	"github.com/peerlink/peerlink/roles"
)

// Command is `peerlink hub`.
func Command(version string) *cli.Command {
	return &cli.Command{
		Name:  "hub",
		Usage: "run the hub: sessions, conflict engine, console and REST API, embedded broker",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "data", Usage: "folder for the hub's state (hub.db, token)", Required: true, EnvVars: []string{"PEERLINK_DATA"}},
			&cli.StringFlag{Name: "listen", Value: ":8181", Usage: "address of the console and REST API"},
			&cli.StringFlag{Name: "broker-listen", Value: ":61617", Usage: "address of the embedded broker"},
			&cli.StringFlag{Name: "broker-url", Usage: "use this standalone broker instead of the embedded one (ws://host:61617 or wss://), or a NATS cluster (nats://host:4222, comma-separated for several servers, or tls://)"},
			// No PEERLINK_CA here: the CLI on the hub's machine may use it.
			&cli.StringFlag{Name: "ca", Usage: "the CA certificates (PEM) that signed a standalone broker's certificate, on top of the system's (for a self-signed deployment)"},
			PasswordFlag(),
			roles.MetricsFlag(),
			&cli.StringSliceFlag{Name: "tls-name", Usage: "a name or address agents and browsers reach the hub by, for its certificate (repeat the flag; default: the host name, localhost, loopback and the host's addresses)"},
			&cli.BoolFlag{Name: "insecure-plain", Usage: "serve plain HTTP and ws:// without TLS, on loopback addresses only; agents then connect with the token in DATA/token"},
			&cli.BoolFlag{Name: "insecure-plain-non-loopback", Usage: "with --insecure-plain: allow it on addresses other hosts reach, where everything (token, files) crosses the network in clear"},
		}, append(directoryFlags(), roles.TLSFlags("the console, the REST API and the embedded broker")...)...),
		Action: func(c *cli.Context) error {
			log, err := roles.Logger(c)
			if err != nil {
				return err
			}
			pw, err := PasswordFromFlag(c)
			if err != nil {
				return err
			}
			dir, err := directoryFromFlags(c)
			if err != nil {
				return err
			}
			ctx, stop := roles.SignalContext(c)
			defer stop()
			return Run(ctx, Options{DataDir: c.String("data"), Listen: c.String("listen"),
				BrokerListen: c.String("broker-listen"), BrokerURL: c.String("broker-url"), Version: version, Log: log,
				AdminPassword: pw, TLSCert: c.String("tls-cert"), TLSKey: c.String("tls-key"), CAFile: c.String("ca"),
				MetricsListen: c.String("metrics-listen"), TLSNames: c.StringSlice("tls-name"), Directory: dir,
				InsecurePlain: c.Bool("insecure-plain"), InsecurePlainNonLoopback: c.Bool("insecure-plain-non-loopback")})
		},
	}
}

// PasswordFlag sets the console's admin password from a file.
func PasswordFlag() cli.Flag {
	return &cli.StringFlag{Name: "admin-password-file", Usage: "set the console's admin password to the first line of this file (8 characters or more); " +
		"without it a password is generated and printed once at first start", EnvVars: []string{"PEERLINK_ADMIN_PASSWORD_FILE"}}
}

// PasswordFromFlag reads --admin-password-file, if given.
func PasswordFromFlag(c *cli.Context) (string, error) {
	if f := c.String("admin-password-file"); f != "" {
		return ReadPasswordFile(f)
	}
	return "", nil
}
