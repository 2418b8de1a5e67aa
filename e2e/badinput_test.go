//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peerlink/peerlink/testkit/ports"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// The "Bad input" section of the issue: each bad input gets a clear message
// (a non-zero exit code, a session status naming the host and the reason)
// and no file on any host is lost or half-written.

// runPeerlink runs the CLI with no hub or token of the environment, only
// env, and returns what it printed and how it exited.
func runPeerlink(t testing.TB, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(append(os.Environ(), "PEERLINK_HUB=", "PEERLINK_TOKEN=", "PEERLINK_TOKEN_FILE="), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("peerlink %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// mustFail fails the test unless r is a failure whose stderr holds every
// one of want.
func mustFail(t testing.TB, what string, r result, want ...string) {
	t.Helper()
	if r.code == 0 {
		t.Errorf("%s: exit 0, want a failure\nstdout: %s\nstderr: %s", what, r.stdout, r.stderr)
		return
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("%s: exit %d, stderr does not say %q:\n%s", what, r.code, w, r.stderr)
		}
	}
}

// waitExit waits for p to end on its own and returns its exit code.
func waitExit(t testing.TB, p *proc, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("%s still running after %s, want it to exit:\n%s", p.name, d, p.logTail(20))
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("%s: %v", p.name, p.err)
	}
	return 0
}

// logLine is the part of a JSON log line the tests look at.
type logLine struct {
	Level   string `json:"level"`
	Message string `json:"message"`
	Error   string `json:"error"`
	RetryIn string `json:"retry_in"` // a duration with its unit, "250ms"
}

// logLines returns the JSON log lines of p with the given message.
func logLines(t testing.TB, p *proc, message string) []logLine {
	t.Helper()
	b, err := os.ReadFile(p.log)
	if err != nil {
		t.Fatal(err)
	}
	var out []logLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l logLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Message == message {
			out = append(out, l)
		}
	}
	return out
}

// agentExists reports whether the hub knows an agent named name, and
// whether it is connected.
func agentExists(t testing.TB, c *cluster, name string) (known, connected bool) {
	t.Helper()
	st, err := c.client().Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range st.Agents {
		if a.Name == name {
			return true, a.Connected
		}
	}
	return false, false
}

// unchanged fails the test unless root still holds the tree before and no
// peerlink temp file.
func unchanged(t testing.TB, root string, before map[string]node) {
	t.Helper()
	if d := diffTrees(before, snapshot(t, root)); d != "" {
		t.Errorf("%s changed:\n%s", root, d)
	}
	if tmp := tempFiles(t, root); len(tmp) > 0 {
		t.Errorf("temp files left in %s: %v", root, tmp)
	}
}

// An agent whose broker does not answer keeps trying, backing off, and says
// which URL it cannot reach; it connects once the broker is there.
func TestBadInputUnreachableBrokerAgentRetries(t *testing.T) {
	c := newCluster(t)
	c.startAgent("site-a").stop() // enrolled: it needs the hub no more to start
	c.proc("hub").stop()          // nothing listens on the broker's port now
	p := c.start("agent-site-a", "agent", "--name", "site-a", "--broker", c.brokerWS, "--token-file", c.tokenFile(),
		"--data", filepath.Join(c.dir, "agent-site-a"))
	var tries []logLine
	waitFor(t, 20*time.Second, "three failed connection attempts in the agent's log", func() bool {
		if p.exited() {
			t.Fatalf("agent exited (%v) instead of retrying:\n%s", p.err, p.logTail(20))
		}
		tries = logLines(t, p, "cannot reach the broker")
		return len(tries) >= 3
	})
	addr := fmt.Sprintf("127.0.0.1:%d", c.brkPort)
	for i, l := range tries {
		if l.Level != "warn" {
			t.Errorf("attempt %d logged at level %q, want warn", i, l.Level)
		}
		for _, w := range []string{addr, "unreachable", "connection refused", "is the hub (or broker) running"} {
			if !strings.Contains(l.Error, w) {
				t.Errorf("attempt %d: error %q does not say %q", i, l.Error, w)
			}
		}
	}
	// Back-off: 250 ms, then 500 ms, then 1 s, each ±20%.
	for i, want := range []float64{250, 500, 1000} {
		d, err := time.ParseDuration(tries[i].RetryIn)
		if err != nil {
			t.Errorf("attempt %d: retry_in %q is no duration with a unit: %v", i, tries[i].RetryIn, err)
		}
		if got := float64(d) / float64(time.Millisecond); got < 0.8*want || got > 1.2*want {
			t.Errorf("attempt %d: retry in %.0f ms, want %.0f ms ±20%%", i, got, want)
		}
	}
	if p.exited() {
		t.Fatalf("agent exited: %v", p.err)
	}
	c.startHub()
	c.waitAgent("site-a", true, p)
}

// A CLI command pointed at a hub URL nothing listens on fails at once,
// naming the URL it tried.
func TestBadInputUnreachableHubCLI(t *testing.T) {
	url := fmt.Sprintf("http://127.0.0.1:%d", ports.Free(t))
	cmds := [][]string{
		{"status"},
		{"status", "--json"},
		{"session", "list"},
		{"session", "create", "s", "--host", "a=/srv/a", "--host", "b=/srv/b"},
		{"session", "start", "s", "--wait"},
		{"session", "status", "s"},
		{"session", "stop", "s"},
	}
	for _, args := range cmds {
		what := strings.Join(args, " ")
		start := time.Now()
		r := runPeerlink(t, []string{"PEERLINK_HUB=" + url, "PEERLINK_TOKEN=whatever"}, args...)
		mustFail(t, what+" (PEERLINK_HUB)", r, "hub unreachable at "+url, "--hub (or PEERLINK_HUB)")
		if r.stdout != "" {
			t.Errorf("%s: printed %q on stdout", what, r.stdout)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s took %s to give up", what, d)
		}
		// The flag wins over the environment.
		r = runPeerlink(t, []string{"PEERLINK_HUB=http://127.0.0.1:1", "PEERLINK_TOKEN=whatever"}, append(args, "--hub", url)...)
		mustFail(t, what+" --hub", r, "hub unreachable at "+url)
	}
}

// An agent with a wrong token is refused by the broker and exits non-zero,
// saying so and where the right token is; one without a token does not
// even try.
func TestBadInputWrongTokenAgent(t *testing.T) {
	// A plain hub on loopback, whose agents present the token.
	c := newCluster(t, "--insecure-plain")
	wrong := filepath.Join(c.dir, "wrong-token")
	if err := os.WriteFile(wrong, []byte("not-"+c.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := c.start("agent-site-x", "agent", "--name", "site-x", "--broker", c.brokerWS, "--token-file", wrong,
		"--data", filepath.Join(c.dir, "agent-site-x"))
	if code := waitExit(t, p, 20*time.Second); code == 0 {
		t.Errorf("agent with a wrong token exited 0")
	}
	out, _ := os.ReadFile(p.log)
	for _, w := range []string{"site-x", "token refused", "the hub's DATA/token file"} {
		if !strings.Contains(string(out), w) {
			t.Errorf("agent output does not say %q:\n%s", w, out)
		}
	}
	if n := len(logLines(t, p, "cannot reach the broker")); n > 0 {
		t.Errorf("a refused token was retried %d times; it cannot succeed", n)
	}
	if known, _ := agentExists(t, c, "site-x"); known {
		t.Errorf("the hub lists site-x, whose token was refused")
	}
	if !strings.Contains(c.proc("hub").logTail(50), "token refused") {
		t.Errorf("the hub's log does not record the refusal:\n%s", c.proc("hub").logTail(20))
	}

	p = c.start("agent-site-y", "agent", "--name", "site-y", "--broker", c.brokerWS, "--data", filepath.Join(c.dir, "agent-site-y"))
	if code := waitExit(t, p, 20*time.Second); code == 0 {
		t.Errorf("agent without a token exited 0")
	}
	if out, _ := os.ReadFile(p.log); !strings.Contains(string(out), "no token: give --token-file") || !strings.Contains(string(out), "PEERLINK_TOKEN") ||
		!strings.Contains(string(out), "DATA/token") {
		t.Errorf("agent without a token does not say it needs one, and where it is:\n%s", out)
	}
}

// A CLI command with a wrong token, or none, fails saying the token was
// refused and where the right one is; nothing is created.
func TestBadInputWrongTokenCLI(t *testing.T) {
	c := newCluster(t)
	c.startAgent("site-a")
	c.startAgent("site-b")
	bad := []string{"PEERLINK_HUB=" + c.hubURL, "PEERLINK_TOKEN=not-" + c.apiToken, "PEERLINK_CA=" + c.ownCAFile()}
	create := []string{"session", "create", "s", "--host", "site-a=" + c.root("site-a"), "--host", "site-b=" + c.root("site-b")}
	for _, args := range [][]string{{"status"}, {"session", "list", "--json"}, create, {"session", "start", "s", "--wait"}} {
		what := strings.Join(args, " ")
		mustFail(t, what+" (wrong token)", runPeerlink(t, bad, args...), "token refused", "--token or PEERLINK_TOKEN", "DATA/admin-token")
		mustFail(t, what+" (no token)", runPeerlink(t, []string{"PEERLINK_HUB=" + c.hubURL, "PEERLINK_CA=" + c.ownCAFile()}, args...),
			"API token is required", "PEERLINK_TOKEN", "DATA/admin-token")
	}
	if list, err := c.client().Sessions(context.Background()); err != nil || len(list) != 0 {
		t.Errorf("sessions after refused commands: %v, %v; want none", list, err)
	}
}

// A session naming a host no agent ever connected as is refused, naming
// that host.
func TestBadInputUnknownHost(t *testing.T) {
	c := newCluster(t)
	c.startAgent("site-a")
	writeFile(t, c.root("site-a"), "a.txt", "a\n", time.Time{})
	before := snapshot(t, c.root("site-a"))
	r := c.cli("session", "create", "s", "--host", "site-a="+c.root("site-a"), "--host", "site-zz="+c.root("site-zz"))
	mustFail(t, "session create with an unknown host", r, "site-zz is unknown", "peerlink agent --name site-zz")
	if strings.Contains(r.stderr, "site-a is") {
		t.Errorf("the message blames site-a, a known host: %s", r.stderr)
	}
	r = c.cli("session", "status", "s")
	mustFail(t, "status of the refused session", r, "no session named s")
	if out := c.mustCLI("session", "list", "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("session list after a refused create: %s", out)
	}
	unchanged(t, c.root("site-a"), before)
}

// failedStart runs `session start NAME --wait`, which must exit 1 saying
// why, and returns the session's status, which must say the same.
func failedStart(t *testing.T, c *cluster, name string, want ...string) api.Session {
	t.Helper()
	r := c.cli("session", "start", name, "--wait")
	if r.code != 1 {
		t.Fatalf("session start --wait: exit %d, want 1\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	mustFail(t, "session start --wait", r, append([]string{"session " + name + " failed"}, want...)...)
	s := c.session(name)
	if s.Status.Phase != api.PhaseFailed {
		t.Errorf("phase %s, want failed", s.Status.Phase)
	}
	for _, w := range want {
		if !strings.Contains(s.Status.Reason, w) {
			t.Errorf("status reason %q does not say %q", s.Status.Reason, w)
		}
	}
	text := c.mustCLI("session", "status", name)
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("session status does not say %q:\n%s", w, text)
		}
	}
	return s
}

// A root that does not exist fails the start on that host, with the path
// and what to do, and touches nothing; once created, the session starts.
func TestBadInputMissingRoot(t *testing.T) {
	c := newCluster(t)
	c.startAgent("site-a")
	c.startAgent("site-b")
	base := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	writeFile(t, c.root("site-a"), "docs/a.txt", "from a\n", base)
	missing := filepath.Join(c.dir, "roots", "site-b-missing")
	// Defined while it exists (a missing root is refused at create, see
	// TestCreateChecksRoots), then gone before the start.
	if err := os.Mkdir(missing, 0o755); err != nil {
		t.Fatal(err)
	}
	c.mustCLI("session", "create", "s", "--host", "site-a="+c.root("site-a"), "--host", "site-b="+missing)
	if err := os.Remove(missing); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, c.root("site-a"))

	failedStart(t, c, "s", "site-b", missing, "does not exist")
	unchanged(t, c.root("site-a"), before)
	if _, err := os.Lstat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the missing root was created by the failed start: %v", err)
	}

	if err := os.Mkdir(missing, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, missing, "b.txt", "from b\n", base)
	c.mustCLI("session", "start", "s", "--wait")
	tree := sameTrees(t, c.root("site-a"), missing)
	if len(tree) != 3 {
		t.Errorf("after the fix, %d entries, want docs, docs/a.txt and b.txt", len(tree))
	}
}

// A root the agent cannot write to (immutable, since the tests run as root)
// fails the start on that host at attach time, before anything moves.
func TestBadInputReadOnlyRoot(t *testing.T) {
	c := newCluster(t)
	c.startAgent("site-a")
	c.startAgent("site-b")
	base := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	writeFile(t, c.root("site-a"), "a.txt", "from a\n", base)
	writeFile(t, c.root("site-b"), "b.txt", "from b\n", base)
	ro := c.root("site-b")
	c.createSession("s", []string{"site-a", "site-b"})
	immutable(t, ro) // after the create, which would refuse it
	beforeA, beforeB := snapshot(t, c.root("site-a")), snapshot(t, ro)

	failedStart(t, c, "s", "site-b", ro, "not writable")
	unchanged(t, c.root("site-a"), beforeA)
	unchanged(t, ro, beforeB)

	chattr(t, "-i", ro)
	c.mustCLI("session", "start", "s", "--wait")
	sameTrees(t, c.root("site-a"), ro)
}

// immutable makes dir immutable (chattr +i) until the test ends, skipping
// the test where that cannot be done.
func immutable(t *testing.T, dir string) {
	t.Helper()
	if _, err := exec.LookPath("chattr"); err != nil {
		t.Skip("chattr is not installed: cannot make a root unwritable for root")
	}
	if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
		t.Skipf("chattr +i %s failed (%v: %s): the file system or the user cannot make a root unwritable", dir, err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", dir).Run() })
	probe := filepath.Join(dir, "probe")
	if err := os.WriteFile(probe, nil, 0o644); err == nil {
		os.Remove(probe)
		t.Skipf("chattr +i %s did not make it unwritable", dir)
	}
}

func chattr(t *testing.T, flag, dir string) {
	t.Helper()
	if out, err := exec.Command("chattr", flag, dir).CombinedOutput(); err != nil {
		t.Fatalf("chattr %s %s: %v: %s", flag, dir, err, out)
	}
}

// Two sessions may not claim overlapping roots on one host: the hub refuses
// the definition when it can see the overlap, and the agent refuses the
// attach when only it can (through a symlink).
func TestBadInputOverlappingRoots(t *testing.T) {
	c := newCluster(t)
	for _, h := range []string{"site-a", "site-b", "site-c"} {
		c.startAgent(h)
	}
	base := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	writeFile(t, c.root("site-a"), "sub/a.txt", "from a\n", base)
	writeFile(t, c.root("site-b"), "b.txt", "from b\n", base)
	writeFile(t, c.root("site-c"), "c.txt", "from c\n", base)
	c.createSession("one", []string{"site-a", "site-b"})

	a, c3 := c.root("site-a"), c.root("site-c")
	refused := []struct{ name, root, overlaps string }{
		{"below", a + "/sub", a},
		{"same", a, a},
		{"same-unclean", a + "//sub/..//", a},
		{"above", filepath.Dir(a), a},
	}
	for _, tc := range refused {
		r := c.cli("session", "create", "two-"+tc.name, "--host", "site-a="+tc.root, "--host", "site-c="+c3)
		mustFail(t, "overlap "+tc.name, r, "on site-a overlaps root "+tc.overlaps+" of session one", "one session only")
	}
	// The same path on another host is another folder; a sibling whose
	// name merely starts with the root's is no overlap either.
	for _, d := range []string{a + "-x", c.dir + "/elsewhere"} {
		if err := os.MkdirAll(d, 0o755); err != nil { // create checks that a root is there
			t.Fatal(err)
		}
	}
	c.mustCLI("session", "create", "other-host", "--host", "site-c="+a+"-x", "--host", "site-b="+c.dir+"/elsewhere")
	c.mustCLI("session", "delete", "other-host")
	sibling := a + "-sibling"
	if err := os.Mkdir(sibling, 0o755); err != nil {
		t.Fatal(err)
	}
	c.mustCLI("session", "create", "sibling", "--host", "site-a="+sibling, "--host", "site-c="+c3)
	c.mustCLI("session", "delete", "sibling")
	if list, err := c.client().Sessions(context.Background()); err != nil || len(list) != 1 {
		t.Fatalf("sessions: %d, %v; want only session one", len(list), err)
	}

	// A symlink hides the overlap from the hub; the agent sees through it.
	link := filepath.Join(c.dir, "link-to-sub")
	if err := os.Symlink(a+"/sub", link); err != nil {
		t.Fatal(err)
	}
	c.mustCLI("session", "start", "one", "--wait")
	c.mustCLI("session", "create", "two", "--host", "site-a="+link, "--host", "site-c="+c3)
	beforeA, beforeB, beforeC := snapshot(t, a), snapshot(t, c.root("site-b")), snapshot(t, c3)
	failedStart(t, c, "two", "site-a", "overlaps root "+a+" of session one")
	unchanged(t, a, beforeA)
	unchanged(t, c.root("site-b"), beforeB)
	unchanged(t, c3, beforeC)
	if s := c.session("one"); s.Status.Phase != api.PhaseRunning {
		t.Errorf("session one is %s (%s) after two was refused, want running", s.Status.Phase, s.Status.Reason)
	}
}

// startAgentAs starts an agent named host as uid/gid id, its root and data
// folder given to that user, and waits until the hub sees it.
func (c *cluster) startAgentAs(host string, id uint32) *proc {
	c.t.Helper()
	data := filepath.Join(c.dir, "agent-"+host)
	if err := os.MkdirAll(data, 0o700); err != nil {
		c.t.Fatal(err)
	}
	for _, p := range []string{data, c.root(host)} {
		err := filepath.WalkDir(p, func(p string, _ os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, int(id), int(id))
		})
		if err != nil {
			c.t.Fatal(err)
		}
	}
	// The binary and the folders above the roots must be reachable by id.
	for _, d := range []string{filepath.Dir(binary), filepath.Dir(c.dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			c.t.Fatal(err)
		}
		for up := filepath.Dir(d); ; up = filepath.Dir(up) {
			if fi, err := os.Stat(up); err != nil || fi.Mode().Perm()&0o001 == 0 {
				c.t.Skipf("%s cannot be searched by uid %d (%v): set TMPDIR to a folder every user can reach", up, id, err)
			}
			if up == filepath.Dir(up) {
				break
			}
		}
	}
	name := "agent-" + host
	// id cannot read the hub's DATA/token: the token comes by the environment.
	cmd := exec.Command(binary, "--log-level", "debug", "agent", "--name", host, "--broker", c.brokerWS, "--data", data)
	cmd.Env = []string{"PEERLINK_TOKEN=" + c.token}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: id, Gid: id}}
	p, err := c.launch(name, cmd)
	if err != nil {
		c.t.Fatalf("start %s as uid %d: %v", name, id, err)
	}
	c.waitAgent(host, true, p)
	return p
}

// A file the source agent cannot read is reported with its host and path,
// fails `start --wait`, and is neither replaced on its host nor replaced
// elsewhere; every other file is synchronised and no temp file is left.
func TestBadInputUnreadableSourceFile(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run an agent as another user")
	}
	const nobody = 65534
	c := newCluster(t)
	a, b := c.root("site-a"), c.root("site-b")
	base := time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC)
	writeFile(t, a, "ok.txt", "readable\n", base)
	writeFile(t, a, "docs/secret.txt", "newest, unreadable\n", base.Add(2*time.Hour))
	writeFile(t, b, "from-b.txt", "from b\n", base)
	writeFile(t, b, "docs/secret.txt", "older copy\n", base.Add(time.Hour))
	c.startAgentAs("site-a", nobody)
	chmod(t, a, "docs/secret.txt", 0)
	c.startAgent("site-b")
	c.createSession("s", []string{"site-a", "site-b"})

	r := c.cli("session", "start", "s", "--wait")
	mustFail(t, "session start --wait with an unreadable file", r, "site-a", "docs/secret.txt", "permission denied")
	s := c.session("s")
	if s.Status.Phase != api.PhaseRunning {
		t.Fatalf("phase %s (%s), want running: one unreadable file must not stop the others", s.Status.Phase, s.Status.Reason)
	}
	var found bool
	for _, e := range s.Status.Errors {
		if e.Host == "site-a" && e.Path == "docs/secret.txt" && e.Kind == wire.KindPermission {
			found = true
			continue
		}
		t.Errorf("unexpected error in the status: %s", e.Error())
	}
	if !found || s.Status.ErrorCount != 1 {
		t.Errorf("status errors %v (count %d), want the one unreadable file on site-a", s.Status.Errors, s.Status.ErrorCount)
	}
	text := c.mustCLI("session", "status", "s")
	if !strings.Contains(text, "site-a: scan docs/secret.txt") || !strings.Contains(text, "permission denied") {
		t.Errorf("session status does not show the unreadable file:\n%s", text)
	}

	// Everything else is synchronised; the unreadable file and the other
	// host's copy of it are both left as they were.
	for _, root := range []string{a, b} {
		for _, p := range []string{"ok.txt", "from-b.txt"} {
			if _, err := os.Stat(filepath.Join(root, p)); err != nil {
				t.Errorf("%s not synchronised: %v", p, err)
			}
		}
		if tmp := tempFiles(t, root); len(tmp) > 0 {
			t.Errorf("temp files left: %v", tmp)
		}
	}
	if got := readFile(t, a, "docs/secret.txt"); got != "newest, unreadable\n" {
		t.Errorf("site-a's unreadable file now holds %q", got)
	}
	if fi, err := os.Stat(filepath.Join(a, "docs/secret.txt")); err != nil || fi.Mode().Perm() != 0 {
		t.Errorf("site-a's unreadable file: %v, %v; want mode 0 as it was", fi, err)
	}
	if got := readFile(t, b, "docs/secret.txt"); got != "older copy\n" {
		t.Errorf("site-b's copy of the unreadable file now holds %q", got)
	}
}
