//go:build linux

package e2e

import (
	"os"
	"testing"
	"time"

	"github.com/peerlink/peerlink/testkit/wanlink"
)

// A folder renamed on a target host while a file in it is locked for its
// writer elsewhere (make chaos, seed 30): the lock follows the folder, the
// writer's close at the new path settles it, the new content reaches every
// host there, and no copy stays locked.
func TestLiveLockFollowsItsFolderRenamed(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	const rel, moved, orig, next = "proj/plan.txt", "renamed/plan.txt", "plan v1\n", "plan v2, written on site-a\n"
	for _, h := range threeHosts {
		writeFile(t, c.root(h), rel, orig, liveT0)
		chmod(t, c.root(h), rel, 0o664)
	}
	startLive(t, c, "lm")
	imm, _ := immutableWorks(t, c.dir)
	w, err := os.OpenFile(livePath(c, "site-a", rel), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	waitFor(t, liveWait, "the copies on site-b and site-c to be locked", func() bool {
		return lockedOn(t, c, "site-b", rel, imm) && lockedOn(t, c, "site-c", rel, imm)
	})
	if err := os.Rename(livePath(c, "site-c", "proj"), livePath(c, "site-c", "renamed")); err != nil {
		t.Fatalf("renaming the folder of a locked copy: %v", err)
	}
	waitFor(t, liveWait, "the folder renamed on every host", func() bool {
		for _, h := range threeHosts {
			if _, err := os.Stat(livePath(c, h, moved)); err != nil {
				return false
			}
		}
		return true
	})
	waitFor(t, liveWait, "the lock listed at its new path", func() bool {
		l := locks(t, c, "lm")
		return len(l) == 1 && l[0].Path == moved
	})
	saveAndRelease(t, c, "lm", w, moved, next)
}

// A file opened for writing on a host whose link is slow, just as another
// host renamed its folder (make chaos, seed 30052): the write-open reaches
// the hub after it planned the rename, for a path that is gone. The writer's
// agent reports it again at its new path once the rename reaches it, so the
// close there settles the lock, the new content reaches every host, and no
// lock stays listed at the old path.
func TestLiveWriteOpenOvertakenByItsFolderRename(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	const rel, moved, orig, next = "proj/plan.txt", "renamed/plan.txt", "plan v1\n", "plan v2, written on site-a\n"
	for _, h := range threeHosts {
		writeFile(t, c.root(h), rel, orig, liveT0)
		chmod(t, c.root(h), rel, 0o664)
	}
	written := time.Now()
	c.startAgentLinked("site-a", wanlink.Shape{RTT: time.Second})
	c.startAgent("site-b")
	c.startAgent("site-c")
	c.createSession("om", threeHosts)
	time.Sleep(time.Until(written.Add(settledAfter)))
	startClean(t, c, "om")

	if err := os.Rename(livePath(c, "site-c", "proj"), livePath(c, "site-c", "renamed")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, liveWait, "the folder renamed on site-b", func() bool {
		_, err := os.Stat(livePath(c, "site-b", moved))
		return err == nil
	})
	// The rename is half a second away from site-a: its write-open of the
	// old path reaches the hub after the hub planned the rename.
	w, err := os.OpenFile(livePath(c, "site-a", rel), os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("site-a's copy not at its old path any more (the link is not slow enough): %v", err)
	}
	defer w.Close()
	waitFor(t, liveWait, "the folder renamed on site-a", func() bool {
		_, err := os.Stat(livePath(c, "site-a", moved))
		return err == nil
	})
	waitFor(t, liveWait, "the lock listed at its new path only", func() bool {
		l := locks(t, c, "om")
		return len(l) == 1 && l[0].Path == moved
	})
	saveAndRelease(t, c, "om", w, moved, next)
}

// saveAndRelease has site-a's writer w save next and close: site-b and
// site-c then hold it at rel, released with their mode 0664, the lock
// table of session is empty, and every root holds the same tree.
func saveAndRelease(t *testing.T, c *cluster, session string, w *os.File, rel, next string) {
	t.Helper()
	if err := w.Truncate(0); err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt([]byte(next), 0); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, liveWait, "site-b and site-c to hold the new content, released, at "+rel, func() bool {
		return releasedOn(t, c, "site-b", rel, next, 0o664) && releasedOn(t, c, "site-c", rel, next, 0o664)
	})
	waitFor(t, liveWait, "the lock table to be empty", func() bool { return len(locks(t, c, session)) == 0 })
	converged(t, c, liveWait, "the three roots to hold the same tree", nil)
}
