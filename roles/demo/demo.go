package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/peerlink/peerlink/roles"
	"github.com/peerlink/peerlink/roles/agent"
	"github.com/peerlink/peerlink/roles/hub"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/web/certs"
)

// Options are the demo's settings, from its command line.
type Options struct {
	Dir          string
	Listen       string
	BrokerListen string
	Version      string
	Log          zerolog.Logger
	Out          io.Writer // where the "what to try" text goes
	// AdminPassword is the console's password; empty means a new one each
	// run, printed with the "what to try" text. AdminPasswordFile is where
	// it came from, to say so instead of printing it.
	AdminPassword     string
	AdminPasswordFile string
}

// demoSessionName is the session the demo defines between its two sites.
const demoSessionName = "demo"

// Run runs a hub, its broker and two agents in one process on folders
// under o.Dir, with a session between them, until ctx ends.
func Run(ctx context.Context, o Options) error {
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	siteA, siteB := filepath.Join(dir, "site-a"), filepath.Join(dir, "site-b")
	for _, d := range []string{siteA, siteB} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	if err := seedDemo(siteA, siteB); err != nil {
		return err
	}

	password, shown := o.AdminPassword, o.AdminPassword
	if password == "" {
		password = hub.NewPassword()
		shown = password
	} else {
		shown = "the one in " + o.AdminPasswordFile
	}
	g, ctx := errgroup.WithContext(ctx)
	readyc := make(chan hub.Ready, 1)
	g.Go(func() error {
		return hub.Run(ctx, hub.Options{DataDir: filepath.Join(dir, "hub"), Listen: o.Listen, BrokerListen: o.BrokerListen,
			Version: o.Version, Log: o.Log, AdminPassword: password,
			Ready: func(r hub.Ready) { readyc <- r }})
	})
	var rd hub.Ready
	select {
	case rd = <-readyc:
	case <-ctx.Done():
		return g.Wait()
	}
	for _, name := range []string{"site-a", "site-b"} {
		// Each agent enrols as an administrator's would, with a join code
		// of its own, the first time; after that its identity suffices.
		data := filepath.Join(dir, "agent-"+name)
		opts := agent.Options{DataDir: data, Version: o.Version, Log: o.Log}
		if id, err := agent.LoadIdentity(data); err != nil {
			return err
		} else if id == nil {
			if opts.Join, err = rd.JoinCode(name); err != nil {
				return fmt.Errorf("demo: join code for %s: %w", name, err)
			}
			opts.HubURL = "https://" + rd.API
		}
		g.Go(func() error { return agent.Run(ctx, opts) })
	}
	// The banner's commands must run as printed: this binary by its full
	// path, which make demo's bin/ is not on PATH.
	self, err := os.Executable()
	if err != nil {
		self = "peerlink"
	}
	g.Go(func() error {
		// People use the hub's first admin API token; the shared token is
		// the agents'.
		tokenFile := hub.AdminTokenFile(filepath.Join(dir, "hub"))
		apiToken, err := roles.ReadFirstLine(tokenFile, "the demo hub's admin-token")
		if err != nil {
			return err
		}
		if err := startDemoSession(ctx, rd, apiToken, siteA, siteB); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		fmt.Fprintf(o.Out, `
peerlink demo is running: a hub, its broker and two agents, with session %q
keeping these two folders identical:
  site-a  %s
  site-b  %s

Console: https://%s   (sign in as admin, password: %s; the browser warns once
         about the hub's own CA, %s, unless you import it)
REST API: https://%s/api/v1/ (API token in %s; described at /openapi.yaml)
Try, in another terminal:
  export PEERLINK_HUB=https://%s PEERLINK_TOKEN_FILE=%s PEERLINK_CA=%s
  %s status
  %s agents list
  %s session status demo
  echo hello > %s/hello.txt
  sleep 1; ls %s
Press Ctrl-C to stop.
`, demoSessionName, siteA, siteB, rd.API, shown, rd.CAFile, rd.API, tokenFile, rd.API, tokenFile, rd.CAFile, self, self, self, siteA, siteB)
		return nil
	})
	return g.Wait()
}

// startDemoSession waits for both agents, defines the session on first run and
// starts it.
func startDemoSession(ctx context.Context, rd hub.Ready, apiToken, siteA, siteB string) error {
	conf, err := certs.Client(rd.CAFile)
	if err != nil {
		return err
	}
	c := api.NewClientTLS("https://"+rd.API, apiToken, conf)
	for {
		st, err := c.Status(ctx)
		if err == nil && connected(st, "site-a") && connected(st, "site-b") {
			break
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	_, err = c.Session(ctx, demoSessionName)
	var se *api.StatusError
	if errors.As(err, &se) && se.Code == 404 {
		_, err = c.CreateSession(ctx, api.SessionConfig{Name: demoSessionName,
			Hosts: []api.HostRoot{{Host: "site-a", Root: siteA}, {Host: "site-b", Root: siteB}}})
	}
	if err != nil {
		return fmt.Errorf("demo session: %w", err)
	}
	s, err := c.Session(ctx, demoSessionName)
	if err != nil {
		return err
	}
	if s.Status.Phase == api.PhaseStopped || s.Status.Phase == api.PhaseFailed {
		if _, err := c.Start(ctx, demoSessionName); err != nil {
			return fmt.Errorf("demo session: %w", err)
		}
	}
	return nil
}

func connected(st api.Status, name string) bool {
	for _, a := range st.Agents {
		if a.Name == name {
			return a.Connected
		}
	}
	return false
}

// seedDemo puts a few files in each site when both are empty (the first
// run), different on each side, so the first synchronisation has work.
func seedDemo(siteA, siteB string) error {
	for _, d := range []string{siteA, siteB} {
		if ents, err := os.ReadDir(d); err != nil || len(ents) > 0 {
			return err
		}
	}
	files := []struct{ path, content string }{
		{filepath.Join(siteA, "README.txt"), "These folders are kept identical by peerlink.\n"},
		{filepath.Join(siteA, "projects", "plan.txt"), "Site A's project plan.\n"},
		{filepath.Join(siteB, "projects", "budget.csv"), "item,cost\nchairs,120\n"},
		{filepath.Join(siteB, "drawings", "empty file.dwg"), ""},
	}
	for _, f := range files {
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		if err := os.WriteFile(f.path, []byte(f.content), 0o644); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	return os.MkdirAll(filepath.Join(siteB, "archive", "2025"), 0o755)
}
