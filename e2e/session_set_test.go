//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/peerlink/peerlink/web/api"
)

// `session set` changes only what it is given (issue 15, item 4): --host
// NAME=ROOT changes that host's root or adds the host, --remove-host takes
// one out, and set's help shows no default of create's as if set would
// apply it.
func TestSessionSetChangesOnlyTheHostGiven(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	for _, h := range []string{"site-a", "site-b", "site-c"} {
		c.startAgent(h)
	}
	c.createSession("s", hostsAB, "--resolver", "manual", "--lock-grace", "2m")
	moved := filepath.Join(c.dir, "moved-a")
	if err := os.MkdirAll(moved, 0o755); err != nil {
		t.Fatal(err)
	}
	hosts := func() []api.HostRoot {
		t.Helper()
		return c.session("s").Hosts
	}

	c.mustCLI("session", "set", "s", "--host", "site-a="+moved)
	want := []api.HostRoot{{Host: "site-a", Root: moved}, {Host: "site-b", Root: c.root("site-b")}}
	if got := hosts(); !slices.Equal(got, want) {
		t.Errorf("after set --host site-a=...: %+v, want %+v", got, want)
	}
	s := c.session("s")
	if s.Options.Resolver != "manual" || s.LockGrace == nil || s.LockGrace.String() != "2m0s" {
		t.Errorf("set --host changed other settings: resolver %q, lock grace %v", s.Options.Resolver, s.LockGrace)
	}

	c.mustCLI("session", "set", "s", "--host", "site-c="+c.root("site-c"))
	want = append(want, api.HostRoot{Host: "site-c", Root: c.root("site-c")})
	if got := hosts(); !slices.Equal(got, want) {
		t.Errorf("after set --host site-c=...: %+v, want %+v", got, want)
	}
	c.mustCLI("session", "set", "s", "--remove-host", "site-c")
	if got := hosts(); !slices.Equal(got, want[:2]) {
		t.Errorf("after set --remove-host site-c: %+v, want %+v", got, want[:2])
	}
	if r := c.cli("session", "set", "s", "--remove-host", "site-z"); r.code == 0 || !strings.Contains(r.stderr, "site-z: not a host of session s") {
		t.Errorf("set --remove-host of a stranger: exit %d, %q", r.code, r.stderr)
	}

	help := c.mustCLI("session", "set", "--help")
	for _, bad := range []string{"last-modified\")", "(default: 30)", "(default: 5m0s)", "(default: true)", "(default: false)"} {
		if strings.Contains(help, bad) {
			t.Errorf("set --help shows %q as if set applied it:\n%s", bad, help)
		}
	}
}
