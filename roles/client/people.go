package client

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/peerlink/peerlink/roles"
	"github.com/peerlink/peerlink/web/api"
)

// tokensCommand is `peerlink tokens`: the API tokens people use with the
// CLI and scripts (admin).
func tokensCommand() *cli.Command {
	return &cli.Command{
		Name: "tokens", Usage: "API tokens for the CLI and scripts: create (shown once), list, revoke (admin)",
		Subcommands: []*cli.Command{
			{
				Name: "create", Usage: "make an API token and print its secret, once",
				Flags: clientFlags(
					&cli.StringFlag{Name: "name", Usage: "the token's name: who or what uses it (alice, backup-script)", Required: true},
					&cli.StringFlag{Name: "role", Value: string(api.RoleViewer), Usage: "admin, helpdesk or viewer"},
					&cli.DurationFlag{Name: "ttl", Usage: "expire this long after now (e.g. 720h); none: never"},
					&cli.StringFlag{Name: "out", Usage: "write the secret to this new file (mode 0600) instead of printing it"},
					jsonFlag),
				Action: func(c *cli.Context) error {
					cl, err := client(c)
					if err != nil {
						return err
					}
					tok, err := cl.CreateToken(c.Context, api.TokenRequest{Name: c.String("name"), Role: api.Role(c.String("role")), TTL: api.Duration(c.Duration("ttl"))})
					if err != nil {
						return err
					}
					if p := c.String("out"); p != "" {
						if err := roles.WriteSecretFile(p, tok.Secret); err != nil {
							return err
						}
						tok.Secret = ""
						fmt.Fprintf(c.App.ErrWriter, "API token %s (role %s) written to %s: use it with --token-file %s\n", tok.Name, tok.Role, p, p)
					}
					if c.Bool("json") {
						return printJSON(c.App.Writer, tok)
					}
					if tok.Secret != "" {
						fmt.Fprintf(c.App.ErrWriter, "API token %s, role %s; the secret below is shown once: keep it in a file of mode 0600 and use --token-file FILE (or PEERLINK_TOKEN)\n", tok.Name, tok.Role)
						fmt.Fprintln(c.App.Writer, tok.Secret)
					}
					return nil
				},
			},
			{
				Name: "list", Usage: "list API tokens: name, role, creator, created, last used, expiry", Flags: clientFlags(jsonFlag),
				Action: listAction((*api.Client).Tokens, "NAME\tROLE\tCREATED BY\tCREATED\tLAST USED\tEXPIRES", func(t api.APIToken) string {
					return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", t.Name, t.Role, t.Creator, when(t.Created), when(t.LastUsed), when(t.Expires))
				}),
			},
			{
				Name: "revoke", Usage: "revoke an API token: its next request is refused", ArgsUsage: "NAME", Flags: clientFlags(),
				Action: namedAction("token name", (*api.Client).RevokeToken, "API token %[1]s revoked"),
			},
			{
				Name:  "retire-shared",
				Usage: "migration from before API tokens: the hub's shared token (DATA/token) stops signing people in; agents keep it",
				Flags: clientFlags(),
				Action: func(c *cli.Context) error {
					cl, err := client(c)
					if err != nil {
						return err
					}
					if err := cl.RetireSharedToken(c.Context); err != nil {
						return err
					}
					fmt.Fprintln(c.App.Writer, "the hub's shared token no longer signs people in; agents keep using it")
					return nil
				},
			},
		},
	}
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}

// usersCommand is `peerlink users`: the console's local accounts (admin).
func usersCommand() *cli.Command {
	roleFlag := &cli.StringFlag{Name: "role", Usage: "admin, helpdesk or viewer", Required: true}
	return &cli.Command{
		Name: "users", Usage: "console accounts: add, list, remove, set-role (admin)",
		Subcommands: []*cli.Command{
			{
				Name: "add", Usage: "add a local console account", ArgsUsage: "NAME",
				Flags: clientFlags(roleFlag, &cli.StringFlag{Name: "password-file", Usage: "a file whose first line is the password (8 characters or more)", Required: true}),
				Action: func(c *cli.Context) error {
					name, err := oneArg(c, "account name")
					if err != nil {
						return err
					}
					pw, err := roles.ReadFirstLine(c.String("password-file"), "--password-file")
					if err != nil {
						return err
					}
					cl, err := client(c)
					if err != nil {
						return err
					}
					u, err := cl.AddUser(c.Context, api.UserRequest{Name: name, Role: api.Role(c.String("role")), Password: pw})
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "console account %s added, role %s\n", u.Name, u.Role)
					return nil
				},
			},
			{
				Name: "list", Usage: "list the local console accounts", Flags: clientFlags(jsonFlag),
				Action: listAction((*api.Client).Users, "NAME\tROLE\tCREATED BY\tCREATED", func(u api.User) string {
					return fmt.Sprintf("%s\t%s\t%s\t%s", u.Name, u.Role, u.Creator, when(u.Created))
				}),
			},
			{
				Name: "remove", Usage: "remove a local console account (its sign-ins end)", ArgsUsage: "NAME", Flags: clientFlags(),
				Action: namedAction("account name", (*api.Client).RemoveUser, "console account %[1]s removed"),
			},
			{
				Name: "set-role", Usage: "change an account's role (its sign-ins end)", ArgsUsage: "NAME", Flags: clientFlags(roleFlag),
				Action: func(c *cli.Context) error {
					name, err := oneArg(c, "account name")
					if err != nil {
						return err
					}
					cl, err := client(c)
					if err != nil {
						return err
					}
					u, err := cl.SetRole(c.Context, name, api.Role(c.String("role")))
					if err != nil {
						return err
					}
					fmt.Fprintf(c.App.Writer, "console account %s: role %s\n", u.Name, u.Role)
					return nil
				},
			},
		},
	}
}

// releaseLock is `peerlink locks release SESSION PATH` (helpdesk): every
// other host's copy is restored as on a normal release.
func releaseLock(c *cli.Context) error {
	if c.NArg() != 3 {
		return fmt.Errorf("locks release: give the session and the locked path (got %d arguments; see peerlink locks SESSION)", c.NArg()-1)
	}
	cl, err := client(c)
	if err != nil {
		return err
	}
	rel, err := cl.ReleaseLock(c.Context, c.Args().Get(1), c.Args().Get(2))
	if err != nil {
		return err
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, rel)
	}
	fmt.Fprintf(c.App.Writer, "lock of %s released (held for %s); copies restored on %s\n", rel.Path, rel.Source, orNone(rel.Targets))
	return nil
}

func orNone(hosts []string) string {
	if len(hosts) == 0 {
		return "no other host"
	}
	return strings.Join(hosts, ", ")
}
