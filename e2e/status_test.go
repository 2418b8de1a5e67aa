//go:build linux

package e2e

import (
	"context"
	"regexp"
	"testing"
	"time"
)

// Status shows what a reader expects (issue 15, item 8): the ENTRIES of
// two hosts whose trees are the same after the first synchronisation are
// the same (not 3 on one and 6 on the other, what each scan found), and
// the LAST SEEN of a connected agent moves with time instead of staying at
// its connection's.
func TestStatusThatMoves(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	for _, h := range hostsAB {
		c.startAgent(h)
	}
	writeFile(t, c.root("site-a"), "docs/a.txt", "a\n", liveT0)
	writeFile(t, c.root("site-a"), "docs/b.txt", "b\n", liveT0)
	writeFile(t, c.root("site-b"), "c.txt", "c\n", liveT0)
	c.createSession("st", hostsAB)
	s := startClean(t, c, "st")
	n := int64(len(snapshot(t, c.root("site-a"))))
	sameTrees(t, c.root("site-a"), c.root("site-b"))
	for _, h := range s.Status.Hosts {
		if h.Held != n {
			t.Errorf("%s holds %d files and folders, the status says %d", h.Host, n, h.Held)
		}
	}
	text := c.mustCLI("session", "status", "st")
	for _, h := range hostsAB {
		if !regexp.MustCompile(`(?m)^\s+` + h + `\s+true\s+\S+\s+\S+\s+4\s*$`).MatchString(text) {
			t.Errorf("session status does not show %s with 4 entries:\n%s", h, text)
		}
	}

	first, err := c.client().Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	later, err := c.client().Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range later.Agents {
		if a.Connected && !a.LastSeen.After(first.Agents[i].LastSeen) {
			t.Errorf("%s connected, last seen %s then still %s a second later", a.Name, first.Agents[i].LastSeen, a.LastSeen)
		}
	}
}
