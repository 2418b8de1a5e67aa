package roles

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"
)

// Logger logs for people on a terminal and as JSON lines otherwise.
func Logger(c *cli.Context) (zerolog.Logger, error) {
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

// SignalContext ends on SIGINT or SIGTERM.
func SignalContext(c *cli.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
}

// TLSFlags are a server's certificate and key; what names what they serve.
func TLSFlags(what string) []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "tls-cert", Usage: "serve TLS on " + what + " with this certificate (PEM, leaf first); needs --tls-key"},
		&cli.StringFlag{Name: "tls-key", Usage: "the private key (PEM) of --tls-cert"},
	}
}

// CAFlag is a client's extra trusted CAs.
func CAFlag(usage string) cli.Flag {
	return &cli.StringFlag{Name: "ca", Usage: usage + " (for a self-signed deployment)", EnvVars: []string{"PEERLINK_CA"}}
}
