//go:build linux

package e2e

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/testkit/ports"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/web/certs"
	"github.com/peerlink/peerlink/web/enrol"
	"github.com/peerlink/peerlink/wire"
)

// binary is the peerlink binary built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "peerlink-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "peerlink")
	build := exec.Command("go", "build", "-o", binary, "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build peerlink:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// waitFor polls cond until it holds or d passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// proc is one peerlink process of a test.
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

// stop ends the process with SIGTERM, then SIGKILL if it lingers.
func (p *proc) stop() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kill ends the process at once, as a crash would.
func (p *proc) kill() {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// pause stops p (SIGSTOP) and returns what continues it, which the test's
// end calls too if the test did not.
func pause(t *testing.T, p *proc) (resume func()) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	resume = func() {
		once.Do(func() {
			if err := p.cmd.Process.Signal(syscall.SIGCONT); err != nil {
				t.Errorf("continue %s: %v", p.name, err)
			}
		})
	}
	t.Cleanup(resume)
	return resume
}

func (p *proc) logTail(n int) string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// cluster is a hub and its agents, each a separate process.
type cluster struct {
	t        testing.TB
	dir      string
	apiPort  int
	brkPort  int
	hubURL   string
	brokerWS string
	token    string // the hub's shared token, which agents present
	// apiToken is the hub's first admin API token (DATA/admin-token),
	// which the CLI and the API client present.
	apiToken string
	hubArgs  []string // more flags for the hub
	// agentArgs are more flags for startAgent's agents; ca, if set, is the
	// CA file that signed the hub's certificate: the hub serves TLS.
	agentArgs []string
	ca        string
	// ownCA is set when the hub serves TLS with its own CA (the default):
	// ca is then its DATA/tls/ca.pem. Agents of a TLS hub enrol with join
	// codes.
	// upgraded starts the hub on a data directory of an older release (a
	// shared token and no CA), whose agents may still use the token.
	ownCA, upgraded bool
	// nkeys, if set, is the folder of the agents' NATS keys (NAME.nk,
	// from `peerlink nats-config`): startAgent gives each its own.
	nkeys string

	mu    sync.Mutex
	procs map[string]*proc
}

// newCluster starts a hub with its embedded broker, and hubArgs.
func newCluster(t testing.TB, hubArgs ...string) *cluster {
	t.Helper()
	return startCluster(&cluster{t: t, dir: t.TempDir(), hubArgs: hubArgs})
}

// startCluster starts c's hub, as c's fields say.
func startCluster(c *cluster) *cluster {
	c.t.Helper()
	c.procs = map[string]*proc{}
	c.startHub()
	c.t.Cleanup(c.stopAll)
	return c
}

func (c *cluster) start(name string, args ...string) *proc {
	c.t.Helper()
	p, err := c.launch(name, exec.Command(binary, append([]string{"--log-level", "debug"}, args...)...))
	if err != nil {
		c.t.Fatalf("start %s: %v", name, err)
	}
	return p
}

// launch starts cmd as the cluster's process name, its output appended to
// DIR/NAME.log and its environment rid of the CLI's variables (but for
// those cmd.Env sets), and keeps it for stopAll.
func (c *cluster) launch(name string, cmd *exec.Cmd) (*proc, error) {
	logPath := filepath.Join(c.dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(append(os.Environ(), "PEERLINK_TOKEN=", "PEERLINK_TOKEN_FILE=", "PEERLINK_HUB=", "PEERLINK_CA="), cmd.Env...)
	c.enrolInstead(cmd)
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	c.mu.Lock()
	c.procs[name] = p
	c.mu.Unlock()
	return p, nil
}

// startHub starts (or restarts) the hub on the cluster's ports and waits
// until its API answers.
func (c *cluster) startHub() *proc {
	c.t.Helper()
	data := filepath.Join(c.dir, "hub")
	if c.apiPort == 0 {
		c.apiPort, c.brkPort = ports.Free(c.t), ports.Free(c.t)
		s := "s"
		if slices.Contains(c.hubArgs, "--insecure-plain") {
			s = ""
		} else if c.ca == "" {
			c.ownCA, c.ca = true, filepath.Join(data, "tls", "ca.pem")
		}
		if c.upgraded {
			if err := os.MkdirAll(data, 0o700); err != nil {
				c.t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(data, "token"), []byte("a-token-of-an-older-release\n"), 0o600); err != nil {
				c.t.Fatal(err)
			}
		}
		c.hubURL = fmt.Sprintf("http%s://127.0.0.1:%d", s, c.apiPort)
		c.brokerWS = fmt.Sprintf("ws%s://127.0.0.1:%d", s, c.brkPort)
	}
	args := []string{"hub", "--data", data,
		"--listen", fmt.Sprintf("127.0.0.1:%d", c.apiPort), "--broker-listen", fmt.Sprintf("127.0.0.1:%d", c.brkPort)}
	p := c.start("hub", append(args, c.hubArgs...)...)
	waitFor(c.t, 20*time.Second, "the hub's token", func() bool {
		b, err := os.ReadFile(filepath.Join(data, "token"))
		if err == nil {
			c.token = strings.TrimSpace(string(b))
		}
		if b, err := os.ReadFile(filepath.Join(data, "admin-token")); err == nil {
			c.apiToken = strings.TrimSpace(string(b))
		}
		return c.token != "" && c.apiToken != "" || p.exited()
	})
	waitFor(c.t, 20*time.Second, "the hub's CA", func() bool {
		_, err := os.Stat(c.ca)
		return !c.ownCA || err == nil || p.exited()
	})
	waitFor(c.t, 20*time.Second, "the hub's API", func() bool {
		_, err := c.client().Status(context.Background())
		return err == nil || p.exited()
	})
	if p.exited() {
		c.t.Fatalf("hub exited: %v\n%s", p.err, p.logTail(30))
	}
	return p
}

// ownCAFile is the hub's own CA, which the CLI trusts it by
// (PEERLINK_CA); empty unless the hub serves TLS with its own CA.
func (c *cluster) ownCAFile() string {
	if c.ownCA {
		return c.ca
	}
	return ""
}

func (c *cluster) client() *api.Client {
	conf, err := certs.Client(c.ca)
	if err != nil {
		c.t.Fatal(err)
	}
	return api.NewClientTLS(c.hubURL, c.apiToken, conf)
}

// root returns (creating it) the root folder of host.
func (c *cluster) root(host string) string {
	r := filepath.Join(c.dir, "roots", host)
	if err := os.MkdirAll(r, 0o755); err != nil {
		c.t.Fatal(err)
	}
	return r
}

// tokenFile is the hub's DATA/token, where agents read the token: never
// from their command line, which every user of a host can read.
func (c *cluster) tokenFile() string { return filepath.Join(c.dir, "hub", "token") }

// startAgent starts an agent named host and waits until the hub sees it.
// On a hub with its own CA the agent enrols with a join code the first
// time (enrolInstead) and connects by its certificate.
func (c *cluster) startAgent(host string) *proc {
	c.t.Helper()
	data := filepath.Join(c.dir, "agent-"+host)
	args := []string{"agent", "--name", host, "--broker", c.brokerWS, "--data", data}
	switch {
	case c.ca == "":
		args = append(args, "--token-file", c.tokenFile())
	case !hasIdentity(data):
		args = append(args, "--join", c.joinCode(host), "--hub", c.hubURL)
	}
	if c.nkeys != "" {
		args = append(args, "--nkey-file", filepath.Join(c.nkeys, host+".nk"))
	}
	p := c.start("agent-"+host, append(args, c.agentArgs...)...)
	c.waitAgent(host, true, p)
	return p
}

// enrolInstead has an agent that cmd starts with the hub's token on a TLS
// hub not upgraded from the shared token (by
// --token-file DATA/token or PEERLINK_TOKEN) enrol instead, as agents of
// a hub with its own CA do: the token goes, and an agent whose --data
// holds no identity yet gets --join with a new code for its --name and
// --hub. So every test's agents connect by mutual TLS.
func (c *cluster) enrolInstead(cmd *exec.Cmd) {
	c.t.Helper()
	i := slices.Index(cmd.Args, "agent")
	if c.ca == "" || c.upgraded || i < 0 {
		return
	}
	args := slices.Clone(cmd.Args[:i+1])
	var name, data string
	byToken := slices.Contains(cmd.Env, "PEERLINK_TOKEN="+c.token)
	for j := i + 1; j < len(cmd.Args); j++ {
		a := cmd.Args[j]
		switch {
		case a == "--token-file" && j+1 < len(cmd.Args) && cmd.Args[j+1] == c.tokenFile():
			byToken = true
			j++
			continue
		case a == "--name" && j+1 < len(cmd.Args):
			name = cmd.Args[j+1]
		case a == "--data" && j+1 < len(cmd.Args):
			data = cmd.Args[j+1]
		}
		args = append(args, a)
	}
	if !byToken || name == "" || data == "" {
		return
	}
	cmd.Env = slices.DeleteFunc(cmd.Env, func(e string) bool { return e == "PEERLINK_TOKEN="+c.token })
	if !hasIdentity(data) {
		args = append(args, "--join", c.joinCode(name), "--hub", c.hubURL)
	}
	cmd.Args = args
}

// joinCode creates a join code for host through the API.
func (c *cluster) joinCode(host string) string {
	c.t.Helper()
	jc, err := c.client().CreateJoinCode(context.Background(), host, 0)
	if err != nil {
		c.t.Fatalf("join code for %s: %v", host, err)
	}
	return jc.Code
}

// hasIdentity reports whether an agent's data holds the identity of a join.
func hasIdentity(data string) bool {
	_, err := os.Stat(filepath.Join(data, "identity", "identity.json"))
	return err == nil
}

func (c *cluster) waitAgent(host string, connected bool, p *proc) {
	c.t.Helper()
	waitFor(c.t, 20*time.Second, fmt.Sprintf("agent %s connected=%v", host, connected), func() bool {
		if p != nil && p.exited() {
			c.t.Fatalf("agent %s exited: %v\n%s", host, p.err, p.logTail(30))
		}
		st, err := c.client().Status(context.Background())
		if err != nil {
			return false
		}
		for _, a := range st.Agents {
			if a.Name == host {
				return a.Connected == connected
			}
		}
		return !connected
	})
}

func (c *cluster) proc(name string) *proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.procs[name]
}

func (c *cluster) stopAll() {
	c.mu.Lock()
	procs := make([]*proc, 0, len(c.procs))
	for _, p := range c.procs {
		procs = append(procs, p)
	}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() { defer wg.Done(); p.stop() }()
	}
	wg.Wait()
	if c.t.Failed() {
		for _, p := range procs {
			c.t.Logf("--- last lines of %s ---\n%s", p.name, p.logTail(40))
		}
	}
}

// result is what a CLI run printed and how it exited.
type result struct {
	stdout, stderr string
	code           int
}

// cli runs the peerlink CLI against the cluster's hub.
func (c *cluster) cli(args ...string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "PEERLINK_HUB="+c.hubURL, "PEERLINK_TOKEN="+c.apiToken, "PEERLINK_TOKEN_FILE=", "PEERLINK_CA="+c.ownCAFile())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		c.t.Fatalf("peerlink %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// mustCLI runs the CLI and fails the test unless it exits 0.
func (c *cluster) mustCLI(args ...string) string {
	c.t.Helper()
	r := c.cli(args...)
	if r.code != 0 {
		c.t.Fatalf("peerlink %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// session returns a session's status through the CLI's --json output.
func (c *cluster) session(name string) api.Session {
	c.t.Helper()
	var s api.Session
	if err := json.Unmarshal([]byte(c.mustCLI("session", "status", name, "--json")), &s); err != nil {
		c.t.Fatalf("session status --json: %v", err)
	}
	return s
}

// createSession defines a session over the given hosts' roots.
func (c *cluster) createSession(name string, hosts []string, extra ...string) {
	c.t.Helper()
	args := []string{"session", "create", name}
	for _, h := range hosts {
		args = append(args, "--host", h+"="+c.root(h))
	}
	c.mustCLI(append(args, extra...)...)
}

// waitRunning waits until an attempt of the session that started at or
// after since has finished its initial synchronisation, and returns the
// session then. A session that fails or stops fails the test.
func (c *cluster) waitRunning(name string, since time.Time, d time.Duration) api.Session {
	c.t.Helper()
	var s api.Session
	waitFor(c.t, d, "session "+name+" to run again", func() bool {
		var err error
		s, err = c.client().Session(context.Background(), name)
		if err != nil {
			return false
		}
		switch s.Status.Phase {
		case api.PhaseFailed, api.PhaseStopped:
			c.t.Fatalf("session %s is %s: %s", name, s.Status.Phase, s.Status.Reason)
		case api.PhaseRunning:
			return !s.Status.Started.Before(since)
		}
		return false
	})
	return s
}

// peakRSS returns the peak resident set size of a running process in
// bytes (VmHWM), or -1 where /proc does not tell.
func (p *proc) peakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err == nil {
				return kb << 10
			}
		}
	}
	return -1
}

// dialPeer connects to the cluster's broker as a peer the test plays
// (a fake or rogue agent): on a TLS hub it enrols hello.Name with a join
// code first, as a real agent would, and connects by its certificate;
// on a plain hub it presents the token.
func (c *cluster) dialPeer(ctx context.Context, hello wire.Hello) (*broker.Client, error) {
	c.t.Helper()
	if c.ca == "" {
		hello.Token = c.token
		return broker.Dial(ctx, c.brokerWS, hello, zerolog.Nop())
	}
	hello.Token = ""
	code, err := enrol.ParseCode(c.joinCode(hello.Name))
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	j, err := enrol.Join(ctx, c.hubURL, code, key)
	if err != nil {
		return nil, err
	}
	conf, err := certs.Client(c.ca)
	if err != nil {
		return nil, err
	}
	conf.RootCAs.AddCert(j.Anchor)
	conf.Certificates = []tls.Certificate{{Certificate: [][]byte{j.Cert.Raw}, PrivateKey: key, Leaf: j.Cert}}
	return broker.DialTLS(ctx, c.brokerWS, hello, conf, zerolog.Nop())
}

// trusting is an HTTP transport that trusts ca (the cluster's c.ca) on top
// of the system's roots.
func trusting(t testing.TB, ca string) http.RoundTripper {
	t.Helper()
	conf, err := certs.Client(ca)
	if err != nil {
		t.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = conf
	return tr
}
