//go:build linux

package e2e

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The seed: "a file is open at the start of a job and has been modified on
// a host where the configured conflict resolution strategy selects a
// different host as the winner" is a conflict. site-b's user has the file
// open for writing (a real descriptor, held by this test) and writes
// before the session starts and after; site-a holds a newer copy, which
// last-modified-time-wins would pick. The start must not rename site-a's
// copy over the open file (the writer's later writes would go to the
// replaced inode, out of the tree): the file goes to the File Conflict
// List, nothing is overwritten, and once the writer closed it and the
// operator picked site-b, both hosts hold everything the writer wrote.
func TestOpenAtStartIsQuarantinedNotReplaced(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	two := []string{"site-a", "site-b"}
	const rel, orig = "docs/report.txt", "v1\n"
	for _, h := range two {
		writeFile(t, c.root(h), rel, orig, liveT0)
	}
	written := time.Now()
	for _, h := range two {
		c.startAgent(h)
	}
	c.createSession("op", two)
	time.Sleep(time.Until(written.Add(settledAfter)))
	startClean(t, c, "op")
	c.mustCLI("session", "stop", "op")

	// While stopped: site-a saves a copy whose time is later than
	// anything site-b's writer will stamp; site-b's user opens the file
	// and writes.
	newer := time.Now().Add(24 * time.Hour)
	writeFile(t, c.root("site-a"), rel, "site-a's newer copy\n", newer)
	w := openOn(t, c, "site-b", rel)
	const before, after = "site-b's writer, before the start\n", "site-b's writer, after the start\n"
	rewrite(t, w, before, false)

	c.mustCLI("session", "start", "op", "--wait")
	s := c.session("op")
	t.Logf("started: phase %s, %d quarantined, %d errors %v", s.Status.Phase, s.Status.Quarantined, s.Status.ErrorCount, s.Status.Errors)
	// The writer goes on, on the file that is still the one in the tree.
	if _, err := w.WriteAt([]byte(after), int64(len(before))); err != nil {
		t.Fatal(err)
	}
	var open, there syscall.Stat_t
	if err := syscall.Fstat(int(w.Fd()), &open); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Lstat(livePath(c, "site-b", rel), &there); err != nil {
		t.Fatal(err)
	}
	if open.Ino != there.Ino || open.Nlink == 0 {
		t.Fatalf("site-b's file was replaced under its writer (inode %d, nlink %d; in the tree: %d)", open.Ino, open.Nlink, there.Ino)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !hasContent(c, "site-b", rel, before+after) {
		b, _ := os.ReadFile(livePath(c, "site-b", rel))
		t.Fatalf("site-b's writer's work was lost: the file holds %q", b)
	}
	list := conflictList(t, c, "op")
	cf, ok := list[rel]
	if !ok || cf.Reason != "open-for-writing" {
		t.Fatalf("%s in the File Conflict List: %+v (%v), want open-for-writing; the list: %+v", rel, cf, ok, list)
	}
	if !strings.Contains(cf.Detail, "site-b") {
		t.Errorf("the conflict's detail does not name the host with the writer: %q", cf.Detail)
	}
	t.Logf("conflict: %s: %s", cf.Reason, cf.Detail)

	if !hasContent(c, "site-a", rel, "site-a's newer copy\n") {
		t.Error("site-a's quarantined copy was overwritten")
	}

	// The operator picks the writer's copy: both hosts hold it.
	c.mustCLI("conflicts", "resolve", "op", rel, "--winner", "site-b")
	waitFor(t, liveWait, "site-b's copy, with both writes, on site-a", func() bool {
		return hasContent(c, "site-a", rel, before+after) && hasContent(c, "site-b", rel, before+after)
	})
	if list := conflictList(t, c, "op"); len(list) != 0 {
		t.Errorf("File Conflict List after the resolution: %+v", list)
	}
	sameTrees(t, c.root("site-a"), c.root("site-b"))
}
