//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
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

// proc is one peerlink process the bench started.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process with SIGTERM, then SIGKILL if it lingers, and
// returns its peak resident set size in bytes (from its rusage).
func (p *proc) stop() int64 {
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	return p.maxRSS()
}

func (p *proc) maxRSS() int64 {
	if p.cmd.ProcessState == nil {
		return 0
	}
	if ru, ok := p.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024 // KiB on Linux
	}
	return 0
}

// hwm reads the running process's peak RSS (VmHWM) from /proc, 0 if it
// cannot.
func (p *proc) hwm() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kb)
			return kb * 1024
		}
	}
	return 0
}

func (p *proc) logTail(n int) string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// cluster is a hub (with its embedded broker) and two agents, each a
// separate process, with their state under dir.
type cluster struct {
	bin      string
	dir      string
	logLevel string
	profile  string // folder for CPU profiles, "" for none
	hubURL   string
	brokerWS string
	token    string // the agents'
	apiToken string // the CLI's and the API's: the hub's DATA/admin-token
	hub      *proc
	agents   map[string]*proc
	order    []string
	// links are the agents' emulated WAN links to the broker, when the
	// cluster runs over one (the wan profile); empty on plain loopback.
	links map[string]*wanlink.Link
}

// rss is the peak resident set size of each process of one cluster run.
type rss struct {
	hub    int64
	agents map[string]int64
}

func freePort() (int, error) { return ports.Pick() }

// startCluster starts a hub and the named agents on fresh ports, with state
// under dir (kept between calls, so a restarted cluster sees its old
// sessions), and waits until the hub sees every agent connected. With a
// shape, each agent reaches the broker through an emulated WAN link of its
// own (testkit/wanlink) shaped so.
func startCluster(ctx context.Context, bin, dir, logLevel, profile string, shape *wanlink.Shape, agents ...string) (*cluster, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	apiPort, err := freePort()
	if err != nil {
		return nil, err
	}
	brkPort, err := freePort()
	if err != nil {
		return nil, err
	}
	c := &cluster{bin: bin, dir: dir, logLevel: logLevel, profile: profile, agents: map[string]*proc{}, links: map[string]*wanlink.Link{},
		hubURL:   fmt.Sprintf("http://127.0.0.1:%d", apiPort),
		brokerWS: fmt.Sprintf("ws://127.0.0.1:%d", brkPort)}
	data := filepath.Join(dir, "hub")
	c.hub, err = c.start("hub", "hub", "--data", data, "--listen", fmt.Sprintf("127.0.0.1:%d", apiPort),
		"--broker-listen", fmt.Sprintf("127.0.0.1:%d", brkPort),
		// Loopback only, as the numbers in bench/results.md were measured:
		// plain text, agents by the hub's token (README: --insecure-plain).
		"--insecure-plain")
	if err != nil {
		return nil, err
	}
	err = c.waitFor(ctx, 30*time.Second, "the hub's API", c.hub, func() bool {
		if c.token == "" {
			b, err := os.ReadFile(filepath.Join(data, "token"))
			if err != nil {
				return false
			}
			c.token = strings.TrimSpace(string(b))
		}
		if c.apiToken == "" {
			b, err := os.ReadFile(filepath.Join(data, "admin-token"))
			if err != nil {
				return false
			}
			c.apiToken = strings.TrimSpace(string(b))
		}
		_, err := c.client().Status(ctx)
		return err == nil
	})
	if err != nil {
		c.stop()
		return nil, err
	}
	for _, name := range agents {
		broker := c.brokerWS
		if shape != nil {
			link, err := wanlink.Start(fmt.Sprintf("127.0.0.1:%d", brkPort), *shape)
			if err != nil {
				c.stop()
				return nil, err
			}
			c.links[name] = link
			broker = "ws://" + link.Addr()
		}
		p, err := c.start("agent-"+name, "agent", "--name", name, "--broker", broker, "--token-file", filepath.Join(data, "token"),
			"--data", filepath.Join(dir, "agent-"+name))
		if err != nil {
			c.stop()
			return nil, err
		}
		c.agents[name] = p
		c.order = append(c.order, name)
	}
	for _, name := range agents {
		err := c.waitFor(ctx, 30*time.Second, "agent "+name, c.agents[name], func() bool {
			st, err := c.client().Status(ctx)
			if err != nil {
				return false
			}
			for _, a := range st.Agents {
				if a.Name == name && a.Connected {
					return true
				}
			}
			return false
		})
		if err != nil {
			c.stop()
			return nil, err
		}
	}
	return c, nil
}

func (c *cluster) start(name string, args ...string) (*proc, error) {
	logPath := filepath.Join(c.dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(c.bin, append([]string{"--log-level", c.logLevel}, args...)...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), "PEERLINK_TOKEN=", "PEERLINK_TOKEN_FILE=", "PEERLINK_HUB=", "PEERLINK_CPUPROFILE=")
	if c.profile != "" {
		prof := filepath.Join(c.profile, fmt.Sprintf("%s-%d.pprof", name, time.Now().UnixNano()))
		cmd.Env = append(cmd.Env, "PEERLINK_CPUPROFILE="+prof)
	}
	// Own process group: a Ctrl-C reaches the bench, which stops its
	// children in order; Pdeathsig kills them should the bench die first.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

func (c *cluster) waitFor(ctx context.Context, d time.Duration, what string, p *proc, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if p != nil && p.exited() {
			return fmt.Errorf("%s exited while waiting for %s: %v\n%s", p.name, what, p.err, p.logTail(20))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", d, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

func (c *cluster) client() *api.Client { return api.NewClient(c.hubURL, c.apiToken) }

// stop ends every process (agents first, then the hub) and returns their
// peak RSS.
func (c *cluster) stop() rss {
	r := rss{agents: map[string]int64{}}
	done := make(chan struct{})
	for _, name := range c.order {
		go func() { c.agents[name].stop(); done <- struct{}{} }()
	}
	for range c.order {
		<-done
	}
	for _, name := range c.order {
		r.agents[name] = c.agents[name].maxRSS()
	}
	for _, l := range c.links {
		l.Close()
	}
	if c.hub != nil {
		r.hub = c.hub.stop()
	}
	return r
}

// wireCount is what crossed each agent's emulated link: bytes to the broker
// (up) and from it (down).
type wireCount map[string][2]int64

// wireBytes reads every link's counters.
func (c *cluster) wireBytes() wireCount {
	w := wireCount{}
	for name, l := range c.links {
		up, down := l.Bytes()
		w[name] = [2]int64{up, down}
	}
	return w
}

// since is what crossed each link between then and w.
func (w wireCount) since(then wireCount) wireCount {
	d := wireCount{}
	for name, v := range w {
		d[name] = [2]int64{v[0] - then[name][0], v[1] - then[name][1]}
	}
	return d
}

// busiest returns the link that carried the most bytes, both directions
// counted, and its bytes up and down.
func (w wireCount) busiest() (name string, up, down int64) {
	for n, v := range w {
		if name == "" || v[0]+v[1] > up+down || (v[0]+v[1] == up+down && n < name) {
			name, up, down = n, v[0], v[1]
		}
	}
	return name, up, down
}

// cli runs the peerlink CLI against the cluster's hub and returns its
// standard output; a non-zero exit is an error carrying both outputs.
func (c *cluster) cli(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Env = append(os.Environ(), "PEERLINK_HUB="+c.hubURL, "PEERLINK_TOKEN="+c.apiToken, "PEERLINK_CPUPROFILE=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("peerlink %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String(), nil
}

// session reads a session's status through the CLI's --json output.
func (c *cluster) session(ctx context.Context, name string) (api.Session, error) {
	var s api.Session
	out, err := c.cli(ctx, "session", "status", name, "--json")
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		return s, fmt.Errorf("session status --json: %w", err)
	}
	return s, nil
}

// logs returns the last lines of every process's log, for a failure report.
func (c *cluster) logs(n int) string {
	var b strings.Builder
	procs := []*proc{c.hub}
	for _, name := range c.order {
		procs = append(procs, c.agents[name])
	}
	for _, p := range procs {
		if p != nil {
			fmt.Fprintf(&b, "--- last lines of %s ---\n%s\n", p.name, p.logTail(n))
		}
	}
	return b.String()
}

// restarts counts the times the hub's log says a session started over
// (an attempt interrupted by a host that went away).
func (c *cluster) restarts() int {
	b, _ := os.ReadFile(c.hub.log)
	return strings.Count(string(b), "will start over")
}
