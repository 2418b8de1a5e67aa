//go:build linux

package e2e

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// otherID is a second unprivileged user: neither the agents' nor root.
const otherID = 65533

// asUser runs a shell script as uid and gid id, with args as $1...
func asUser(t *testing.T, id uint32, script string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("/bin/sh", append([]string{"-c", script, "sh"}, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: id, Gid: id, Groups: []uint32{}}}
	cmd.Dir = "/"
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// The three agents run as an unprivileged user (uid 65534) that owns the
// roots: their watchers detect write-opens by read leases, not fanotify,
// and their target locks cannot set the immutable flag. This process
// (root) holds a file open read-write on site-a: the copies on site-b and
// site-c lose their write bits, without the flag, and a third user, to
// whom the copy was writable, can no longer write it in place. Written and
// closed, the new content reaches both with their original mode. A
// read-only open meanwhile locks nothing. What the README promises for an
// agent that is not root is checked as far as it goes: the owner of a
// locked copy can still make it writable again.
func TestLiveNonRootAgents(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the agents as another user")
	}
	t.Parallel()
	c := liveCluster(t)
	openToNobody(t, c)
	const rel, ro, orig, next = "team/plan.txt", "team/read.txt", "plan v1\n", "plan v2, written on site-a\n"
	for _, h := range threeHosts {
		writeFile(t, c.root(h), rel, orig, liveT0)
		chmod(t, c.root(h), rel, 0o666) // writable by everyone until locked
		writeFile(t, c.root(h), ro, "read me\n", liveT0)
	}
	written := time.Now()
	for _, h := range threeHosts {
		c.startAgentAs(h, nobodyID) // gives the root to uid 65534
	}
	c.createSession("nr", threeHosts)
	time.Sleep(time.Until(written.Add(settledAfter)))
	startClean(t, c, "nr")

	pb := livePath(c, "site-b", rel)
	if out, err := asUser(t, otherID, `test -w "$1"`, pb); err != nil {
		t.Fatalf("before the lock uid %d cannot write %s (%v %s): the enforcement check would prove nothing", otherID, pb, err, out)
	}

	r, err := os.Open(livePath(c, "site-a", ro))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	w := openOn(t, c, "site-a", rel)
	waitFor(t, liveWait, "the copies on site-b and site-c to lose their write bits", func() bool {
		return lockedOn(t, c, "site-b", rel, false) && lockedOn(t, c, "site-c", rel, false)
	})
	for _, h := range []string{"site-b", "site-c"} {
		p := livePath(c, h, rel)
		if isImmutable(t, p) {
			t.Errorf("%s on %s has the immutable flag: an agent that is not root cannot set it", rel, h)
		}
		if out, err := asUser(t, otherID, `printf 'overwritten by another user\n' >> "$1"`, p); err == nil {
			t.Errorf("uid %d appended to the locked copy on %s: want the write refused", otherID, h)
		} else if !strings.Contains(out, "ermission denied") {
			t.Errorf("uid %d writing the locked copy on %s failed with %q, want permission denied", otherID, h, out)
		}
		if got := readFile(t, c.root(h), rel); got != orig {
			t.Errorf("locked copy on %s holds %q, want it untouched %q", h, got, orig)
		}
		if got := permOf(t, c, h, ro); got != 0o644 {
			t.Errorf("%s, only read on site-a, has mode %o on %s, want 644", ro, got, h)
		}
	}
	if l := locks(t, c, "nr"); len(l) != 1 || l[0].Path != rel || l[0].Source != "site-a" || len(l[0].Targets) != 2 {
		t.Errorf("lock table %+v, want only %s, held by site-a on both targets", l, rel)
	}
	// The README: without root, the owner of a copy may give itself the
	// write bit back (the lock cannot stop that); a test of what the lock
	// does not promise, on a scratch copy so the session is not disturbed.
	scratch := livePath(c, "site-b", "team/scratch~") // a backup name: excluded
	if err := os.WriteFile(scratch, []byte("x"), 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(scratch, nobodyID, nobodyID); err != nil {
		t.Fatal(err)
	}
	if out, err := asUser(t, nobodyID, `chmod u+w "$1" && printf y >> "$1"`, scratch); err != nil {
		t.Errorf("the owner of a read-only file could not chmod u+w and write it (%v %s): the README's table says it can", err, out)
	}
	os.Remove(scratch)

	rewrite(t, w, next, true)
	waitFor(t, liveWait, "site-b and site-c to hold the new content with their original mode", func() bool {
		return releasedOn(t, c, "site-b", rel, next, 0o666) && releasedOn(t, c, "site-c", rel, next, 0o666)
	})
	waitFor(t, liveWait, "the lock table to be empty", func() bool { return len(locks(t, c, "nr")) == 0 })
	r.Close()
	converged(t, c, liveWait, "the three roots to hold the same tree", nil)
	for _, h := range threeHosts {
		var st syscall.Stat_t
		if err := syscall.Stat(livePath(c, h, rel), &st); err != nil {
			t.Fatal(err)
		}
		if h != "site-a" && st.Uid != nobodyID {
			t.Errorf("%s on %s belongs to uid %d after the transfer, want the agent's %d", rel, h, st.Uid, nobodyID)
		}
	}
	if s := c.session("nr"); s.Status.ErrorCount != 0 || s.Status.Quarantined != 0 {
		t.Errorf("session: %d errors %v, %d quarantined; want none", s.Status.ErrorCount, s.Status.Errors, s.Status.Quarantined)
	}
}
