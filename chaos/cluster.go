//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/peerlink/peerlink/testkit/ports"
	"github.com/peerlink/peerlink/testkit/wanlink"
	"github.com/peerlink/peerlink/web/api"
)

// proc is one peerlink process the harness started.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func (p *proc) running() bool {
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// kill ends the process at once, as a crash or a power cut would.
func (p *proc) kill() {
	if p.running() {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// stop ends the process with SIGTERM, then SIGKILL if it lingers.
func (p *proc) stop() {
	if !p.running() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.kill()
	}
}

// cluster is a hub (with its embedded broker) and agents, each a separate
// process with its state under dir, each agent reaching the broker through
// a link of its own.
type cluster struct {
	bin      string
	dir      string
	apiAddr  string
	brkAddr  string
	token    string // the agents'
	apiToken string // the CLI's and the API's: the hub's DATA/admin-token
	hosts    []string
	hub      *proc
	agents   map[string]*proc
	links    map[string]*wanlink.Link
	starts   int // processes started, to tell their logs apart
	logLevel string
}

// newCluster starts a hub and one agent per host, with its root under
// dir/roots, and waits until every agent is connected.
func newCluster(ctx context.Context, bin, dir string, hosts []string, shape wanlink.Shape) (*cluster, error) {
	c := &cluster{bin: bin, dir: dir, hosts: hosts, agents: map[string]*proc{}, links: map[string]*wanlink.Link{}, logLevel: "debug"}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var err error
	if c.apiAddr, err = ports.Addr(); err != nil {
		return nil, err
	}
	if c.brkAddr, err = ports.Addr(); err != nil {
		return nil, err
	}
	if err := c.startHub(ctx); err != nil {
		c.close()
		return nil, err
	}
	for _, h := range hosts {
		if err := os.MkdirAll(c.root(h), 0o755); err != nil {
			c.close()
			return nil, err
		}
		addr, err := ports.Addr()
		if err != nil {
			c.close()
			return nil, err
		}
		l, err := wanlink.StartAt(addr, c.brkAddr, shape)
		if err != nil {
			c.close()
			return nil, err
		}
		c.links[h] = l
		if err := c.startAgent(h); err != nil {
			c.close()
			return nil, err
		}
	}
	err = c.waitFor(ctx, 60*time.Second, "every agent connected", func() (bool, error) {
		return c.allConnected(ctx), nil
	})
	if err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *cluster) root(host string) string { return filepath.Join(c.dir, "roots", host) }

func (c *cluster) client() *api.Client { return api.NewClient("http://"+c.apiAddr, c.apiToken) }

func (c *cluster) launch(name string, args ...string) (*proc, error) {
	c.starts++
	logPath := filepath.Join(c.dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "=== start %d of %s at %s\n", c.starts, name, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(c.bin, append([]string{"--log-level", c.logLevel}, args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), "PEERLINK_TOKEN=", "PEERLINK_TOKEN_FILE=", "PEERLINK_HUB=", "PEERLINK_CA=", "PEERLINK_CPUPROFILE=")
	// Pdeathsig: should the harness die, its processes die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// startHub starts the hub on the cluster's ports and data, and waits for
// its API.
func (c *cluster) startHub(ctx context.Context) error {
	data := filepath.Join(c.dir, "hub")
	// Loopback only: plain text, agents by the hub's token (the faults,
	// not the enrolment, are under test; e2e covers that).
	p, err := c.launch("hub", "hub", "--data", data, "--listen", c.apiAddr, "--broker-listen", c.brkAddr, "--insecure-plain")
	if err != nil {
		return err
	}
	c.hub = p
	return c.waitFor(ctx, 60*time.Second, "the hub's API", func() (bool, error) {
		if !p.running() {
			return false, fmt.Errorf("hub exited: %v", p.err)
		}
		if c.token == "" {
			b, err := os.ReadFile(filepath.Join(data, "token"))
			if err != nil {
				return false, nil
			}
			c.token = strings.TrimSpace(string(b))
		}
		if c.apiToken == "" {
			b, err := os.ReadFile(filepath.Join(data, "admin-token"))
			if err != nil {
				return false, nil
			}
			c.apiToken = strings.TrimSpace(string(b))
		}
		_, err := c.client().Status(ctx)
		return err == nil, nil
	})
}

func (c *cluster) startAgent(host string) error {
	p, err := c.launch("agent-"+host, "agent", "--name", host, "--broker", "ws://"+c.links[host].Addr(),
		"--token-file", filepath.Join(c.dir, "hub", "token"), "--data", filepath.Join(c.dir, "agent-"+host))
	if err != nil {
		return err
	}
	c.agents[host] = p
	return nil
}

func (c *cluster) allConnected(ctx context.Context) bool {
	st, err := c.client().Status(ctx)
	if err != nil {
		return false
	}
	n := 0
	for _, a := range st.Agents {
		if a.Connected {
			n++
		}
	}
	return n == len(c.hosts)
}

// waitFor polls cond every 100 ms until it holds, fails, or d passes.
func (c *cluster) waitFor(ctx context.Context, d time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(d)
	for {
		ok, err := cond()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", d, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// close stops every process, agents first, and every link.
func (c *cluster) close() {
	for _, p := range c.agents {
		p.stop()
	}
	for _, l := range c.links {
		l.Close()
	}
	if c.hub != nil {
		c.hub.stop()
	}
}

// unlockAll takes the immutable flag off everything under dir, so that a
// harness run killed while copies were locked can still be removed.
func unlockAll(dir string) {
	_ = exec.Command("chattr", "-R", "-f", "-i", dir).Run()
}
