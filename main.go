// Command peerlink is the one binary of peerlink: hub, broker, agent, the
// demo, and the command-line client of the hub's REST API.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/peerlink/peerlink/roles"
	"github.com/peerlink/peerlink/roles/agent"
	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/roles/broker/natslink"
	"github.com/peerlink/peerlink/roles/client"
	"github.com/peerlink/peerlink/roles/demo"
	"github.com/peerlink/peerlink/roles/doctor"
	"github.com/peerlink/peerlink/roles/hub"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	stopProfile := roles.StartProfile()
	app := roles.App(version, append([]*cli.Command{
		hub.Command(version), broker.Command(), agent.Command(version), demo.Command(version), doctor.Command(), natslink.Command(),
	}, client.Commands()...)...)
	err := app.Run(client.FlagsFirst(app, os.Args))
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
