package client

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/peerlink/peerlink/web/api"
)

func conflictsCommand() *cli.Command {
	return &cli.Command{
		Name:  "conflicts",
		Usage: "the File Conflict List: quarantined paths and their resolution",
		Subcommands: []*cli.Command{
			{
				Name: "list", Usage: "show each conflicted path, why, and every host's copy", ArgsUsage: "SESSION",
				Flags: clientFlags(jsonFlag),
				Action: onSession(func(c *cli.Context, cl *api.Client, name string) error {
					list, err := cl.Conflicts(c.Context, name)
					if err != nil {
						return err
					}
					if c.Bool("json") {
						return printJSON(c.App.Writer, list)
					}
					printConflicts(c.App.Writer, name, list)
					return nil
				}),
			},
			{
				Name: "resolve", Usage: "make one host's copy the winner: it is propagated to every host and the entry removed",
				ArgsUsage: "SESSION [PATH]",
				Flags: clientFlags(
					&cli.StringFlag{Name: "winner", Usage: "the host whose copy wins", Required: true},
					&cli.BoolFlag{Name: "all", Usage: "resolve every listed path with the same winner"},
				),
				Action: func(c *cli.Context) error {
					req := api.ResolveRequest{Winner: c.String("winner"), All: c.Bool("all")}
					want := 2
					if req.All {
						want = 1
					}
					if c.NArg() != want {
						return fmt.Errorf("conflicts resolve: give SESSION PATH, or SESSION --all (got %d arguments)", c.NArg())
					}
					name := c.Args().Get(0)
					req.Path = c.Args().Get(1)
					cl, err := client(c)
					if err != nil {
						return err
					}
					res, err := cl.Resolve(c.Context, name, req)
					if err != nil {
						return err
					}
					for _, p := range res.Resolved {
						fmt.Fprintf(c.App.Writer, "resolved %s: the copy on %s won\n", p, req.Winner)
					}
					for _, f := range res.Failed {
						fmt.Fprintf(c.App.ErrWriter, "not resolved %s: %s\n", f.Path, f.Error)
					}
					if len(res.Failed) > 0 {
						return cli.Exit(fmt.Sprintf("%d of %d conflicts not resolved; they stay in the list", len(res.Failed), len(res.Failed)+len(res.Resolved)), 1)
					}
					if len(res.Resolved) == 0 {
						fmt.Fprintf(c.App.Writer, "the File Conflict List of %s is empty\n", name)
					}
					return nil
				},
			},
		},
	}
}

func locksCommand() *cli.Command {
	return &cli.Command{
		Name: "locks", Usage: "list a running session's live locks: path, source host, since, targets locked; `locks release SESSION PATH` releases one by hand (helpdesk)",
		ArgsUsage: "SESSION | release SESSION PATH",
		Flags:     clientFlags(jsonFlag),
		// Not a subcommand: urfave/cli would then stop taking flags after
		// the session's name (locks SESSION --json).
		Action: func(c *cli.Context) error {
			if c.Args().First() == "release" {
				return releaseLock(c)
			}
			return listLocks(c)
		},
	}
}

func listLocks(c *cli.Context) error {
	return onSession(func(c *cli.Context, cl *api.Client, name string) error {
		list, err := cl.Locks(c.Context, name)
		if err != nil {
			return err
		}
		if c.Bool("json") {
			return printJSON(c.App.Writer, list)
		}
		if len(list) == 0 {
			fmt.Fprintf(c.App.Writer, "no locks in session %s\n", name)
			return nil
		}
		tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PATH\tSOURCE\tUSER\tSINCE\tTARGETS LOCKED\tALSO WRITING\tSTATE")
		for _, l := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Path, l.Source, l.User, l.Since.Local().Format("2006-01-02 15:04:05"),
				strings.Join(l.Targets, ","), strings.Join(l.Writers, ","), lockState(l))
		}
		return tw.Flush()
	})(c)
}

// lockState says whether a lock is held for a connected writer, or kept
// for the grace period of an interrupted session.
func lockState(l api.Lock) string {
	switch {
	case l.Until.IsZero():
		return "held"
	case l.Orphaned:
		return "source disconnected, released at " + l.Until.Local().Format("15:04:05")
	}
	return "session interrupted, released at " + l.Until.Local().Format("15:04:05")
}

func printConflicts(w io.Writer, session string, list []api.Conflict) {
	if len(list) == 0 {
		fmt.Fprintf(w, "no conflicts in session %s\n", session)
		return
	}
	for _, cf := range list {
		fmt.Fprintf(w, "%s  (%s", cf.Path, cf.Reason)
		if cf.Detail != "" {
			fmt.Fprintf(w, ": %s", cf.Detail)
		}
		fmt.Fprintln(w, ")")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, cp := range cf.Copies {
			if !cp.Exists {
				fmt.Fprintf(tw, "  %s\tno copy\t\t\t\t\n", cp.Host)
				continue
			}
			hash := cp.Hash
			if len(hash) > 12 {
				hash = hash[:12]
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", cp.Host, cp.Kind, size(cp.Size), cp.Mtime.Local().Format("2006-01-02 15:04:05.000"), hash, cp.User)
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "\n%d conflicts. Resolve one with: %s conflicts resolve %s PATH --winner HOST\n", len(list), self(), session)
}
