//go:build linux

package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/testkit/ports"
	"github.com/peerlink/peerlink/wire"
)

const looseTokenWarning = "the token file can be read by other users: chmod 600 it"

// An agent's token never rides on its command line, which every user of
// the host reads (ps, /proc/PID/cmdline): `agent --token` is refused before
// anything else, even with the right token, saying what to use instead;
// --token-file (its first line, trimmed) and PEERLINK_TOKEN work. The CLI
// and a standalone broker take --token-file too.
func TestAgentTokenNotOnTheCommandLine(t *testing.T) {
	// A plain hub on loopback, whose agents present the token.
	c := newCluster(t, "--insecure-plain")
	for _, flag := range [][]string{{"--token", c.token}, {"--token=" + c.token}} {
		args := append([]string{"agent", "--name", "site-x", "--broker", c.brokerWS, "--data", filepath.Join(c.dir, "agent-site-x")}, flag...)
		mustFail(t, "agent "+flag[0], runPeerlink(t, nil, args...), "--token on the agent's command line is refused",
			"every user of this host can read a command line", "--token-file FILE", "PEERLINK_TOKEN")
	}
	if known, _ := agentExists(t, c, "site-x"); known {
		t.Errorf("the hub lists site-x, which was given --token")
	}

	// The first line of the file, spaces trimmed; the rest is not read as
	// the token. A file only its owner reads raises no warning.
	file := filepath.Join(c.dir, "agent-token")
	if err := os.WriteFile(file, []byte("  "+c.token+" \nsecond line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := c.start("agent-site-a", "agent", "--name", "site-a", "--broker", c.brokerWS, "--token-file", file,
		"--data", filepath.Join(c.dir, "agent-site-a"))
	c.waitAgent("site-a", true, p)
	if w := logLines(t, p, looseTokenWarning); len(w) != 0 {
		t.Errorf("a token file of mode 0600 was warned of: %+v", w)
	}

	// One that others may read works, with a warning.
	loose := filepath.Join(c.dir, "loose-token")
	if err := os.WriteFile(loose, []byte(c.token), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(loose, 0o644); err != nil { // past the umask
		t.Fatal(err)
	}
	p = c.start("agent-site-b", "agent", "--name", "site-b", "--broker", c.brokerWS, "--token-file", loose,
		"--data", filepath.Join(c.dir, "agent-site-b"))
	c.waitAgent("site-b", true, p)
	if w := logLines(t, p, looseTokenWarning); len(w) != 1 || w[0].Level != "warn" {
		t.Errorf("a token file of mode 0644: warnings %+v, want one", w)
	}

	// The environment.
	cmd := exec.Command(binary, "--log-level", "debug", "agent", "--name", "site-c", "--broker", c.brokerWS,
		"--data", filepath.Join(c.dir, "agent-site-c"))
	cmd.Env = []string{"PEERLINK_TOKEN=" + c.token}
	p, err := c.launch("agent-site-c", cmd)
	if err != nil {
		t.Fatal(err)
	}
	c.waitAgent("site-c", true, p)

	badTokenFiles(t, c)

	// The CLI, with an API token in a file of the same shape.
	apiFile := filepath.Join(c.dir, "api-token")
	if err := os.WriteFile(apiFile, []byte("  "+c.apiToken+" \nsecond line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runPeerlink(t, []string{"PEERLINK_HUB=" + c.hubURL}, "status", "--token-file", apiFile)
	if r.code != 0 || !strings.Contains(r.stdout, "site-a") {
		t.Errorf("status --token-file: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	standaloneBrokerTokenFile(t, c, file)
}

// badTokenFiles: a token file that cannot be the token stops the agent at
// start, naming the file.
func badTokenFiles(t *testing.T, c *cluster) {
	t.Helper()
	dir := filepath.Join(c.dir, "bad-tokens")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		content *string // nil: no such file
		want    string
	}{
		{"missing", nil, "no such file or directory"},
		{"empty", ptr(""), "the first line is empty"},
		{"blank-first-line", ptr("  \n" + c.token + "\n"), "the first line is empty"},
		{"huge", ptr(strings.Repeat("x", 1<<20)), "the first line is longer than 4096 bytes"},
	} {
		path := filepath.Join(dir, tc.name)
		if tc.content != nil {
			if err := os.WriteFile(path, []byte(*tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		r := runPeerlink(t, nil, "agent", "--name", "site-z", "--broker", c.brokerWS, "--token-file", path,
			"--data", filepath.Join(c.dir, "agent-site-z"))
		mustFail(t, "agent --token-file "+tc.name, r, "--token-file", tc.want, "DATA/token")
	}
	r := runPeerlink(t, nil, "agent", "--name", "site-z", "--broker", c.brokerWS, "--token-file", dir,
		"--data", filepath.Join(c.dir, "agent-site-z"))
	mustFail(t, "agent --token-file DIR", r, "--token-file "+dir+": not a regular file")
	if known, _ := agentExists(t, c, "site-z"); known {
		t.Errorf("the hub lists site-z, whose token files were all bad")
	}
}

// standaloneBrokerTokenFile starts `peerlink broker --token-file file` and
// checks that it admits the token in file, refuses another, and makes no
// token of its own.
func standaloneBrokerTokenFile(t *testing.T, c *cluster, file string) {
	t.Helper()
	data := filepath.Join(c.dir, "broker")
	url := fmt.Sprintf("ws://127.0.0.1:%d", ports.Free(t))
	p := c.start("broker", "broker", "--data", data, "--listen", strings.TrimPrefix(url, "ws://"), "--token-file", file)
	hello := wire.Hello{Role: wire.RoleAgent, Name: "probe", Protocol: wire.ProtocolVersion}
	dial := func(token string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h := hello
		h.Token = token
		b, err := broker.Dial(ctx, url, h, zerolog.Nop())
		if err == nil {
			b.Close()
		}
		return err
	}
	waitFor(t, 20*time.Second, "the standalone broker to admit the token of --token-file", func() bool {
		if p.exited() {
			t.Fatalf("broker exited: %v\n%s", p.err, p.logTail(20))
		}
		return dial(c.token) == nil
	})
	var we *wire.Error
	if err := dial("not-" + c.token); !errors.As(err, &we) || we.Kind != wire.KindPermission {
		t.Errorf("standalone broker, another token: %v, want it refused", err)
	}
	if _, err := os.Stat(filepath.Join(data, "token")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the standalone broker given --token-file made DATA/token (%v)", err)
	}
}
