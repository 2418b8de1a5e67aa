package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/peerlink/peerlink/roles"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/web/certs"
)

// clientFlags find and authenticate to the hub.
func clientFlags(extra ...cli.Flag) []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "hub", Value: "https://127.0.0.1:8181", Usage: "the hub's console/API URL (http:// only for a hub run with --insecure-plain)", EnvVars: []string{"PEERLINK_HUB"}},
		&cli.StringFlag{Name: "token", Usage: "your API token (peerlink tokens create; the first is in the hub's DATA/admin-token); --token-file keeps it off the command line", EnvVars: []string{"PEERLINK_TOKEN"}},
		&cli.StringFlag{Name: "token-file", Usage: "a file (mode 0600) whose first line is your API token", EnvVars: []string{"PEERLINK_TOKEN_FILE"}},
		roles.CAFlag("the CA certificates (PEM) that signed the hub's certificate, on top of the system's: the hub's own CA is HUBDATA/tls/ca.pem"),
	}, extra...)
}

func client(c *cli.Context) (*api.Client, error) {
	log, err := roles.Logger(c)
	if err != nil {
		return nil, err
	}
	token := c.String("token")
	if p := c.String("token-file"); p != "" {
		var warning string
		if token, warning, err = roles.ReadSecretFile(p, "--token-file"); err != nil {
			return nil, err
		}
		if warning != "" {
			log.Warn().Str("file", p).Msg(warning)
		}
	}
	if token == "" {
		return nil, fmt.Errorf("an API token is required: --token-file FILE (or PEERLINK_TOKEN_FILE, or --token, PEERLINK_TOKEN); an admin makes one with peerlink tokens create, and the hub's first is in its DATA/admin-token")
	}
	if strings.HasPrefix(token, api.TokenPrefix) {
		if err := api.CheckTokenFormat(token); err != nil {
			return nil, fmt.Errorf("malformed API token: %s", strings.TrimPrefix(err.Error(), api.ErrInvalid.Error()+": "))
		}
	}
	conf, err := certs.Client(c.String("ca"))
	if err != nil {
		return nil, err
	}
	return api.NewClientTLS(c.String("hub"), token, conf), nil
}

var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print JSON (a stable shape, see the README)"}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// listAction is the action of a command that lists what fetch returns:
// as JSON with --json, else as a table with header and one row per item.
func listAction[T any](fetch func(*api.Client, context.Context) ([]T, error), header string, row func(T) string) cli.ActionFunc {
	return func(c *cli.Context) error {
		cl, err := client(c)
		if err != nil {
			return err
		}
		list, err := fetch(cl, c.Context)
		if err != nil {
			return err
		}
		if c.Bool("json") {
			return printJSON(c.App.Writer, list)
		}
		tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, header)
		for _, item := range list {
			fmt.Fprintln(tw, row(item))
		}
		return tw.Flush()
	}
}

// namedAction is a command on one named thing: act on it, then say what
// was done, done's %[1]s standing for its name.
func namedAction(what string, act func(*api.Client, context.Context, string) error, done string) cli.ActionFunc {
	return func(c *cli.Context) error {
		name, err := oneArg(c, what)
		if err != nil {
			return err
		}
		cl, err := client(c)
		if err != nil {
			return err
		}
		if err := act(cl, c.Context, name); err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, done+"\n", name)
		return nil
	}
}

// oneArg returns the command's single positional argument.
func oneArg(c *cli.Context, what string) (string, error) {
	if c.NArg() != 1 {
		return "", fmt.Errorf("%s: give exactly one %s (got %d arguments)", c.Command.FullName(), what, c.NArg())
	}
	return c.Args().First(), nil
}

func statusCommand() *cli.Command {
	return &cli.Command{
		Name: "status", Usage: "show the hub's agents: connected, version, last seen", Flags: clientFlags(jsonFlag),
		Action: func(c *cli.Context) error {
			cl, err := client(c)
			if err != nil {
				return err
			}
			st, err := cl.Status(c.Context)
			if err != nil {
				return err
			}
			if c.Bool("json") {
				return printJSON(c.App.Writer, st)
			}
			fmt.Fprintf(c.App.Writer, "hub %s (protocol %d)\n", st.Version, st.Protocol)
			for _, w := range st.Warnings {
				fmt.Fprintf(c.App.Writer, "WARNING: %s\n", w)
			}
			tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "AGENT\tCONNECTED\tVERSION\tADDRESS\tLAST SEEN\tCLOCK")
			for _, a := range st.Agents {
				seen := "-"
				if !a.LastSeen.IsZero() {
					seen = a.LastSeen.Local().Format(time.DateTime)
				}
				fmt.Fprintf(tw, "%s\t%v\t%s\t%s\t%s\t%s\n", a.Name, a.Connected, a.Version, a.Addr, seen, clockOffset(a.Clock))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			for _, w := range st.Warnings {
				fmt.Fprintf(c.App.Writer, "WARNING: %s\n", w)
			}
			return nil
		},
	}
}

// clockOffset prints a host's clock against the hub's: "+5.002s", "-300ms"
// (to the millisecond, or the microsecond below one), "-" before the
// first measurement.
func clockOffset(c *api.Clock) string {
	if c == nil {
		return "-"
	}
	d := time.Duration(c.Offset)
	d = roundClock(d)
	if d >= 0 {
		return "+" + d.String()
	}
	return d.String()
}

// clockError prints how far a clock's measurement may be off.
func clockError(c *api.Clock) string { return roundClock(time.Duration(c.Error)).String() }

// roundClock keeps milliseconds, or microseconds below one.
func roundClock(d time.Duration) time.Duration {
	if d >= time.Millisecond || d <= -time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Microsecond)
}

// size prints a byte count in binary units.
func size(n int64) string { return roles.Size(n) }

// onSession is the prologue of every command about one session: its one
// argument is the session's name, and it talks to the hub.
func onSession(action func(c *cli.Context, cl *api.Client, name string) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		name, err := oneArg(c, "session name")
		if err != nil {
			return err
		}
		cl, err := client(c)
		if err != nil {
			return err
		}
		return action(c, cl, name)
	}
}

// Commands are the client's commands, beside the roles' in the binary.
func Commands() []*cli.Command {
	return []*cli.Command{sessionCommand(), conflictsCommand(), locksCommand(), statusCommand(), joinCodeCommand(), agentsCommand(), brokerCertCommand(), tokensCommand(), usersCommand()}
}

// self is the command as the user ran it (bin/peerlink after make demo, or
// peerlink on the PATH), so that the hints printed run as printed.
func self() string {
	if len(os.Args) > 0 && os.Args[0] != "" {
		return os.Args[0]
	}
	return "peerlink"
}
