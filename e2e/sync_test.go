//go:build linux

package e2e

import (
	"strings"
	"testing"
	"time"
)

// Three hosts with disjoint trees end with the union on every host, and a
// second start of the synchronised session transfers nothing.
func TestDisjointTreesMergeIntoUnion(t *testing.T) {
	c := newCluster(t)
	hosts := []string{"site-a", "site-b", "site-c"}
	base := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	writeFile(t, c.root("site-a"), "a/one.txt", "from a\n", base)
	writeFile(t, c.root("site-b"), "b/deep/two.txt", "from b\n", base.Add(time.Hour))
	writeFile(t, c.root("site-c"), "three.txt", "from c\n", base.Add(2*time.Hour))
	for _, h := range hosts {
		c.startAgent(h)
	}
	c.createSession("union", hosts)
	out := c.mustCLI("session", "start", "union", "--wait")
	if !strings.Contains(out, "synchronised") {
		t.Errorf("start --wait printed %q, want a line saying it synchronised", out)
	}
	tree := sameTrees(t, c.root("site-a"), c.root("site-b"), c.root("site-c"))
	for _, p := range []string{"a/one.txt", "b/deep/two.txt", "three.txt"} {
		if _, ok := tree[p]; !ok {
			t.Errorf("%s missing after the merge", p)
		}
	}
	if got := tree["a/one.txt"].Mtime; got != base.UnixNano() {
		t.Errorf("a/one.txt mtime %d, want %d (nanoseconds preserved)", got, base.UnixNano())
	}
	s := c.session("union")
	if s.Status.Phase != "running" || s.Status.Files.Done != 6 {
		t.Errorf("status after start: phase %s, files %d/%d; want running, 6 files", s.Status.Phase, s.Status.Files.Done, s.Status.Files.Total)
	}

	c.mustCLI("session", "stop", "union")
	c.mustCLI("session", "start", "union", "--wait")
	if s := c.session("union"); s.Status.Files.Total != 0 {
		t.Errorf("restart of a synchronised session planned %d transfers, want 0", s.Status.Files.Total)
	}
}
