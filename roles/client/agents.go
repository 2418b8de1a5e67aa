package client

import (
	"context"
	"fmt"
	"time"

	"github.com/peerlink/peerlink/web/api"
	"github.com/urfave/cli/v2"
)

// joinCodeCommand is `peerlink join-code create`.
func joinCodeCommand() *cli.Command {
	return &cli.Command{
		Name: "join-code", Usage: "enrol agents: one-time codes with which an agent gets its own certificate",
		Subcommands: []*cli.Command{{
			Name: "create", Usage: "print a single-use join code for host --name: run `peerlink agent --join CODE --hub https://HUB:8181 --data DIR` there",
			Flags: clientFlags(
				&cli.StringFlag{Name: "name", Usage: "the host the code enrols (its name in sessions)", Required: true},
				&cli.DurationFlag{Name: "ttl", Value: time.Hour, Usage: "how long the code may be used (up to 720h)"}),
			Action: func(c *cli.Context) error {
				cl, err := client(c)
				if err != nil {
					return err
				}
				jc, err := cl.CreateJoinCode(c.Context, c.String("name"), c.Duration("ttl"))
				if err != nil {
					return err
				}
				// The code alone on stdout, for scripts; how to use it on
				// stderr.
				fmt.Fprintln(c.App.Writer, jc.Code)
				fmt.Fprintf(c.App.ErrWriter, "valid once until %s; on %s run:\n  peerlink agent --join %s --hub %s --data DIR\n",
					jc.Expires.Local().Format(time.DateTime), jc.Name, jc.Code, c.String("hub"))
				return nil
			},
		}},
	}
}

// agentsCommand is `peerlink agents list|revoke|require-certs`.
func agentsCommand() *cli.Command {
	return &cli.Command{
		Name: "agents", Usage: "enrolled agents' credentials: list, revoke, require certificates",
		Subcommands: []*cli.Command{
			{
				Name: "list", Usage: "list enrolled agents and their certificates", Flags: clientFlags(jsonFlag),
				Action: listAction((*api.Client).AgentCredentials, "AGENT\tSTATE\tISSUED\tSERIAL", func(a api.AgentCredential) string {
					state := "enrolled"
					if !a.Revoked.IsZero() {
						state = "revoked " + a.Revoked.Local().Format(time.DateTime)
					}
					return fmt.Sprintf("%s\t%s\t%s\t%s", a.Name, state, a.Issued.Local().Format(time.DateTime), a.Serial)
				}),
			},
			{
				Name: "revoke", Usage: "revoke agent NAME's certificate: its connection is dropped and it cannot connect again until it joins with a new code",
				ArgsUsage: "NAME", Flags: clientFlags(),
				Action: namedAction("agent name", func(cl *api.Client, ctx context.Context, name string) error {
					_, err := cl.RevokeAgent(ctx, name)
					return err
				}, "agent %[1]s revoked: to enrol it again, `peerlink join-code create --name %[1]s`"),
			},
			{
				Name: "require-certs", Usage: "on a hub upgraded from the shared token: stop accepting that token from agents (run once every agent has joined)",
				Flags: clientFlags(),
				Action: func(c *cli.Context) error {
					cl, err := client(c)
					if err != nil {
						return err
					}
					if _, err := cl.RequireCerts(c.Context); err != nil {
						return err
					}
					fmt.Fprintln(c.App.Writer, "agents must now present their certificate; the shared token admits none")
					return nil
				},
			},
		},
	}
}
