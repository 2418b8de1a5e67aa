//go:build linux

package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The systemd units in deploy/ are what an administrator installs: each
// must be one systemd takes without a complaint (no unknown key, no bad
// value, a binary it can find) and must run the peerlink command it means
// to, with only the flags it has. systemd-analyze checks the first, the
// binary's own flag parsing the second.
func TestSystemdUnits(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("no systemd-analyze on this machine")
	}
	dir := t.TempDir()
	for _, unit := range []string{"peerlink-hub.service", "peerlink-agent.service"} {
		b, err := os.ReadFile(filepath.Join("..", "deploy", "systemd", unit))
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		start := ""
		for _, line := range strings.Split(text, "\n") {
			if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
				start = v
			}
		}
		args := strings.Fields(start)
		if len(args) < 2 || args[0] != "/usr/local/bin/peerlink" {
			t.Fatalf("%s: ExecStart=%q, want /usr/local/bin/peerlink ROLE ...", unit, start)
		}
		// The unit as installed, but naming the binary under test.
		local := filepath.Join(dir, unit)
		if err := os.WriteFile(local, []byte(strings.Replace(text, args[0], binary, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		out, _ := exec.Command(analyze, "verify", local).CombinedOutput()
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, unit) {
				t.Errorf("systemd-analyze verify %s: %s", unit, line)
			}
		}
		// Every flag the unit gives is one the role knows: --help with
		// them fails on an unknown flag.
		help := append(append([]string{}, args[1:]...), "--help")
		if out, err := exec.Command(binary, help...).CombinedOutput(); err != nil {
			t.Errorf("%s: peerlink %s: %v\n%s", unit, strings.Join(help, " "), err, out)
		}
	}
}
