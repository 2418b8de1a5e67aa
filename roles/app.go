package roles

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// App is the peerlink binary's command line: the flags every role shares
// and the given commands, one per way of running it, plus `version`.
func App(version string, commands ...*cli.Command) *cli.App {
	return &cli.App{
		Name:    "peerlink",
		Usage:   "keep folders identical across file servers, one editor per file at a time",
		Version: version,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug, info, warn or error", EnvVars: []string{"PEERLINK_LOG_LEVEL"}},
		},
		HideVersion:          false,
		EnableBashCompletion: true,
		// Repeatable flags take one value per use, whole: a root folder
		// or an exclude glob may hold a comma ("Projects, 2026"), and a
		// directory group's DN always does.
		DisableSliceFlagSeparator: true,
		Commands: append(commands, &cli.Command{Name: "version", Usage: "print the version", Action: func(c *cli.Context) error {
			fmt.Fprintf(c.App.Writer, "peerlink %s\n", version)
			return nil
		}}),
	}
}
