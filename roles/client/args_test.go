package client

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/peerlink/peerlink/roles"
	"github.com/peerlink/peerlink/roles/agent"
	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/roles/demo"
	"github.com/peerlink/peerlink/roles/hub"
)

// newApp is the binary's command line, as main builds it.
func newApp() *cli.App {
	return roles.App("test", append([]*cli.Command{
		hub.Command("test"), broker.Command(), agent.Command("test"), demo.Command("test"),
	}, Commands()...)...)
}

func TestFlagsFirst(t *testing.T) {
	app := newApp()
	tests := []struct {
		name    string
		in, out string // space-separated, after "peerlink"
	}{
		{"no arguments", "", ""},
		{"command only", "status", "status"},
		{"flags already first", "session status --json s", "session status --json s"},
		{"bool flag after the name", "session status s --json", "session status --json s"},
		{"value flags after the name", "session create s --host a=/x --host b=/y",
			"session create --host a=/x --host b=/y s"},
		{"flag=value form", "session create s --host=a=/x --exclude=*.tmp", "session create --host=a=/x --exclude=*.tmp s"},
		{"single dash", "session create s -host a=/x", "session create -host a=/x s"},
		{"mixed around the name", "session create --resolver manual s --truncate-ms --host a=/x",
			"session create --resolver manual --truncate-ms --host a=/x s"},
		{"a value that looks like a command", "session create s --host status", "session create --host status s"},
		{"a value that starts with a dash", "session create s --exclude -x", "session create --exclude -x s"},
		{"bool flag does not take the name", "session start --wait s", "session start --wait s"},
		{"bool flag before the name, value flag after", "session start --wait s --hub http://h:1",
			"session start --wait --hub http://h:1 s"},
		{"global flags stay before the command", "--log-level debug session status s --json",
			"--log-level debug session status --json s"},
		{"global flag after the command moves before it", "hub --data d --log-level debug",
			"--log-level debug hub --data d"},
		{"global flag=value after a subcommand's name", "session status s --log-level=warn --json",
			"--log-level=warn session status --json s"},
		{"global flag=value", "--log-level=warn status --json", "--log-level=warn status --json"},
		{"leaf command without subcommands", "agent --name a --broker ws://h:1 --token t --data /d",
			"agent --name a --broker ws://h:1 --token t --data /d"},
		{"double dash ends flags", "session create s -- --host a=/x", "session create s -- --host a=/x"},
		{"double dash after flags", "session create s --host a=/x -- -n", "session create --host a=/x s -- -n"},
		{"lone dash is positional", "session status - --json", "session status --json -"},
		{"unknown flag takes no value", "session create s --bogus v", "session create --bogus s v"},
		{"several positionals keep their order", "session status a b --json c", "session status --json a b c"},
		{"help flag", "session create s --help", "session create --help s"},
		// A value flag with nothing after it must not take the name as its
		// value: alone at the end, the parser says the flag needs an
		// argument.
		{"value flag missing its value", "session create s --host", "session create --host"},
		{"value flag missing its value after others", "session create s --host a=/x --exclude",
			"session create --host a=/x --exclude"},
		// A command's flags given before it (issue 15: `peerlink --hub URL
		// status`) are carried down to it.
		{"client flags before the command", "--hub http://h:1 --token t status --json", "status --hub http://h:1 --token t --json"},
		{"client flag=value before the command", "--hub=http://h:1 status", "status --hub=http://h:1"},
		{"bool client flag before a parent command", "--json session status s", "session status --json s"},
		{"global and client flags before the command", "--log-level debug --hub http://h:1 session list", "--log-level debug session list --hub http://h:1"},
		{"client flag between command levels", "session --hub http://h:1 status s", "session status --hub http://h:1 s"},
		// An unknown command is left as it is, for the parser to name it.
		{"unknown command", "nosuch x --json", "nosuch x --json"},
		{"unknown subcommand", "session nosuch x --json", "session nosuch x --json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]string{"peerlink"}, strings.Fields(tc.in)...)
			want := append([]string{"peerlink"}, strings.Fields(tc.out)...)
			orig := slices.Clone(in)
			got := FlagsFirst(app, in)
			if !slices.Equal(got, want) {
				t.Errorf("FlagsFirst(%q)\n got %q\nwant %q", tc.in, got[1:], want[1:])
			}
			if !slices.Equal(in, orig) {
				t.Errorf("FlagsFirst changed its input: %q", in)
			}
		})
	}
}

// The reordered arguments parse as the documented forms do: the name is
// the command's one argument, and every --host reaches the command.
func TestFlagsFirstParses(t *testing.T) {
	run := func(args ...string) (name string, hosts []string, err error) {
		app := newApp()
		app.Writer, app.ErrWriter = io.Discard, io.Discard
		for _, c := range app.Commands {
			for _, sc := range c.Subcommands {
				if c.Name == "session" && sc.Name == "create" {
					sc.Action = func(c *cli.Context) error {
						if c.NArg() != 1 {
							t.Errorf("create got %d arguments: %q", c.NArg(), c.Args().Slice())
						}
						name, hosts = c.Args().First(), c.StringSlice("host")
						return nil
					}
				}
			}
		}
		err = app.Run(FlagsFirst(app, append([]string{"peerlink"}, args...)))
		return name, hosts, err
	}
	name, hosts, err := run("session", "create", "proj", "--host", "a=/x", "--host", "b=/y", "--truncate-ms")
	if err != nil {
		t.Fatal(err)
	}
	if name != "proj" || !slices.Equal(hosts, []string{"a=/x", "b=/y"}) {
		t.Errorf("parsed name %q, hosts %q; want proj, [a=/x b=/y]", name, hosts)
	}

	// A value flag left without its value is reported as such.
	_, _, err = run("session", "create", "proj", "--host")
	if err == nil || !strings.Contains(err.Error(), "flag needs an argument: -host") {
		t.Errorf("create with --host and no value: %v, want \"flag needs an argument: -host\"", err)
	}
}
