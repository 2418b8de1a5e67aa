package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/peerlink/peerlink/api"
	"github.com/peerlink/peerlink/conflict"
)

// clientFlags find and authenticate to the hub.
func clientFlags(extra ...cli.Flag) []cli.Flag {
	return append([]cli.Flag{
		&cli.StringFlag{Name: "hub", Value: "http://127.0.0.1:8181", Usage: "the hub's console/API URL", EnvVars: []string{"PEERLINK_HUB"}},
		&cli.StringFlag{Name: "token", Usage: "the hub's token (from the hub's DATA/token)", EnvVars: []string{"PEERLINK_TOKEN"}},
	}, extra...)
}

func client(c *cli.Context) (*api.Client, error) {
	if c.String("token") == "" {
		return nil, fmt.Errorf("--token (or PEERLINK_TOKEN) is required: it is in the hub's DATA/token file")
	}
	return api.NewClient(c.String("hub"), c.String("token")), nil
}

var jsonFlag = &cli.BoolFlag{Name: "json", Usage: "print JSON (a stable shape, see the README)"}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// oneArg returns the command's single positional argument.
func oneArg(c *cli.Context, what string) (string, error) {
	if c.NArg() != 1 {
		return "", fmt.Errorf("%s: give exactly one %s (got %d arguments)", c.Command.FullName(), what, c.NArg())
	}
	return c.Args().First(), nil
}

func optionFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "host", Usage: "a participant and its root folder, HOST=ROOT (repeat for each host)"},
		&cli.StringFlag{Name: "resolver", Value: "last-modified", Usage: "conflict resolution at start: last-modified or manual"},
		&cli.BoolFlag{Name: "truncate-ms", Usage: "compare modification times without their milliseconds"},
		&cli.StringSliceFlag{Name: "exclude", Usage: "a glob of paths not to synchronise, on top of the default filter (repeatable)"},
	}
}

func sessionConfig(c *cli.Context, name string) (api.SessionConfig, error) {
	cfg := api.SessionConfig{Name: name, Exclude: c.StringSlice("exclude"), Options: conflict.Options{
		Resolver:   conflict.Resolver(c.String("resolver")),
		TruncateMs: c.Bool("truncate-ms"),
	}}
	for _, hr := range c.StringSlice("host") {
		host, root, ok := strings.Cut(hr, "=")
		if !ok || host == "" || root == "" {
			return cfg, fmt.Errorf("--host %q: write HOST=ROOT, e.g. --host site-a=/srv/projects", hr)
		}
		cfg.Hosts = append(cfg.Hosts, api.HostRoot{Host: host, Root: root})
	}
	return cfg, nil
}

func sessionCommand() *cli.Command {
	return &cli.Command{
		Name:  "session",
		Usage: "define, start, stop and watch file collaboration sessions",
		Subcommands: []*cli.Command{
			{
				Name: "create", Usage: "define a session", ArgsUsage: "NAME",
				Flags: clientFlags(optionFlags()...),
				Action: func(c *cli.Context) error {
					name, err := oneArg(c, "session name")
					if err != nil {
						return err
					}
					cfg, err := sessionConfig(c, name)
					if err != nil {
						return err
					}
					cl, err := client(c)
					if err != nil {
						return err
					}
					s, err := cl.CreateSession(c.Context, cfg)
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "session %s created with %d hosts; start it with: peerlink session start %s --wait\n", s.Name, len(s.Hosts), s.Name)
					return nil
				},
			},
			{
				Name: "start", Usage: "start a session: scan, merge, resolve, transfer, then run", ArgsUsage: "NAME",
				Flags: clientFlags(&cli.BoolFlag{Name: "wait", Usage: "return when the initial synchronisation is done; exit 1 if it fails"}),
				Action: func(c *cli.Context) error {
					name, err := oneArg(c, "session name")
					if err != nil {
						return err
					}
					cl, err := client(c)
					if err != nil {
						return err
					}
					if _, err := cl.Start(c.Context, name); err != nil {
						return err
					}
					if !c.Bool("wait") {
						fmt.Fprintf(c.App.Writer, "session %s starting; follow it with: peerlink session status %s\n", name, name)
						return nil
					}
					return waitSynced(c, cl, name)
				},
			},
			{
				Name: "stop", Usage: "stop a session", ArgsUsage: "NAME", Flags: clientFlags(),
				Action: func(c *cli.Context) error {
					name, err := oneArg(c, "session name")
					if err != nil {
						return err
					}
					cl, err := client(c)
					if err != nil {
						return err
					}
					if _, err := cl.Stop(c.Context, name); err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "session %s stopped\n", name)
					return nil
				},
			},
			{
				Name: "delete", Usage: "delete a stopped session and its index (files are not touched)", ArgsUsage: "NAME", Flags: clientFlags(),
				Action: func(c *cli.Context) error {
					name, err := oneArg(c, "session name")
					if err != nil {
						return err
					}
					cl, err := client(c)
					if err != nil {
						return err
					}
					if err := cl.DeleteSession(c.Context, name); err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "session %s deleted\n", name)
					return nil
				},
			},
			{
				Name: "list", Usage: "list sessions", Flags: clientFlags(jsonFlag),
				Action: func(c *cli.Context) error {
					cl, err := client(c)
					if err != nil {
						return err
					}
					list, err := cl.Sessions(c.Context)
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(c.App.Writer, list)
					}
					tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "NAME\tPHASE\tHOSTS\tFILES\tBYTES")
					for _, s := range list {
						hosts := make([]string, len(s.Hosts))
						for i, h := range s.Hosts {
							hosts[i] = h.Host
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s/%s\n", s.Name, s.Status.Phase, strings.Join(hosts, ","),
							s.Status.Files.Done, s.Status.Files.Total, size(s.Status.Bytes.Done), size(s.Status.Bytes.Total))
					}
					return tw.Flush()
				},
			},
			{
				Name: "status", Usage: "show a session's phase, hosts and progress", ArgsUsage: "NAME", Flags: clientFlags(jsonFlag),
				Action: func(c *cli.Context) error {
					name, err := oneArg(c, "session name")
					if err != nil {
						return err
					}
					cl, err := client(c)
					if err != nil {
						return err
					}
					s, err := cl.Session(c.Context, name)
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(c.App.Writer, s)
					}
					printSession(c.App.Writer, s)
					return nil
				},
			},
		},
	}
}

func printSession(w io.Writer, s api.Session) {
	st := s.Status
	fmt.Fprintf(w, "session %s: %s", s.Name, st.Phase)
	if st.Reason != "" {
		fmt.Fprintf(w, " (%s)", st.Reason)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  resolver %s", s.Options.Resolver)
	if s.Options.TruncateMs {
		fmt.Fprint(w, ", truncate milliseconds")
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  files %d/%d, bytes %s/%s, errors %d, quarantined %d\n", st.Files.Done, st.Files.Total,
		size(st.Bytes.Done), size(st.Bytes.Total), st.ErrorCount, st.Quarantined)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  HOST\tCONNECTED\tSTATE\tROOT\tENTRIES\tERROR")
	for _, h := range st.Hosts {
		fmt.Fprintf(tw, "  %s\t%v\t%s\t%s\t%d\t%s\n", h.Host, h.Connected, h.State, h.Root, h.Files, h.Error)
	}
	tw.Flush()
	for _, e := range st.Errors {
		fmt.Fprintf(w, "  error: %s\n", e.Error())
	}
	for _, warn := range st.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warn)
	}
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
			tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "AGENT\tCONNECTED\tVERSION\tADDRESS\tLAST SEEN")
			for _, a := range st.Agents {
				seen := "-"
				if !a.LastSeen.IsZero() {
					seen = a.LastSeen.Local().Format(time.DateTime)
				}
				fmt.Fprintf(tw, "%s\t%v\t%s\t%s\t%s\n", a.Name, a.Connected, a.Version, a.Addr, seen)
			}
			return tw.Flush()
		},
	}
}

// size prints a byte count in binary units.
func size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
