//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The client's flags work before the command as after it (issue 15, item
// 7): `peerlink --hub URL --token T status` was refused with "flag
// provided but not defined: -hub" and the whole help page.
func TestCLIFlagsBeforeTheCommand(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	run := func(args ...string) (string, string, error) {
		cmd := exec.Command(binary, args...)
		// Nothing from the environment: the flags alone must reach the hub.
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "PEERLINK_") {
				env = append(env, kv)
			}
		}
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	for _, args := range [][]string{
		{"--hub", c.hubURL, "--token", c.apiToken, "--ca", c.ca, "status", "--json"},
		{"--hub=" + c.hubURL, "--json", "--token", c.apiToken, "--ca=" + c.ca, "status"},
		{"--log-level", "warn", "--ca", c.ca, "--hub", c.hubURL, "--token", c.apiToken, "--json", "status"},
		{"status", "--json", "--hub", c.hubURL, "--token", c.apiToken, "--ca", c.ca},
	} {
		out, errOut, err := run(args...)
		if err != nil {
			t.Errorf("peerlink %s: %v\n%s", strings.Join(args, " "), err, errOut)
			continue
		}
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Errorf("peerlink %s: not JSON: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	out, _, err := run("--hub", c.hubURL, "--token", c.apiToken, "--ca", c.ca, "session", "list")
	if err != nil || !strings.Contains(out, "NAME") {
		t.Errorf("peerlink --hub URL --token T session list: %v\n%s", err, out)
	}
}
