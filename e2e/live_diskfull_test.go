//go:build linux

package e2e

import (
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// mountSmall mounts a tmpfs of size bytes on dir for the rest of the test,
// or skips the test if this process may not mount. The cleanup stops the
// cluster's processes first: an agent's open folder would keep the mount
// busy.
func mountSmall(t *testing.T, c *cluster, dir, size string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system for the full disk needs root")
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0755", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a %s tmpfs to fill (mount: %v %s): this test needs mount permission", size, err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		c.stopAll()
		_ = exec.Command("chattr", "-R", "-i", dir).Run()
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
			_ = exec.Command("umount", "-l", dir).Run()
		}
	})
}

// filesBelow lists every file below root, the protected area included,
// with its size.
func filesBelow(t *testing.T, root string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = fi.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// site-c's root is a 2 MiB file system. A file open for writing on site-a
// (locked on site-b and site-c) grows to 3 MiB and is closed: site-b gets
// the new content; site-c cannot hold it, keeps its old copy intact with
// no temp file left, and is released with its original mode; the session's
// status names site-c and the full disk, in text and JSON. The session goes
// on: a small file written afterwards reaches site-c.
func TestLiveDiskFullTarget(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	mountSmall(t, c, c.root("site-c"), "2m")
	const rel, orig, small = "big/model.bin", "model v1\n", "big/after.txt"
	for _, h := range threeHosts {
		writeFile(t, c.root(h), rel, orig, liveT0)
		chmod(t, c.root(h), rel, 0o640)
	}
	immC, _ := immutableWorks(t, c.root("site-c"))
	startLive(t, c, "df")
	imm, _ := immutableWorks(t, c.dir)
	before := filesBelow(t, c.root("site-c"))

	w := openOn(t, c, "site-a", rel)
	waitFor(t, liveWait, "the copies on site-b and site-c to be locked", func() bool {
		return lockedOn(t, c, "site-b", rel, imm) && lockedOn(t, c, "site-c", rel, immC)
	})
	big := make([]byte, 3<<20)
	rng := rand.NewChaCha8([32]byte{7})
	_, _ = rng.Read(big)
	rewrite(t, w, string(big), true)

	waitFor(t, liveWait, "site-b to hold the 3 MiB version with its original mode", func() bool {
		return releasedOn(t, c, "site-b", rel, string(big), 0o640)
	})
	waitFor(t, liveWait, "site-c released with its old copy and original mode", func() bool {
		return releasedOn(t, c, "site-c", rel, orig, 0o640)
	})
	waitFor(t, liveWait, "the lock table to be empty", func() bool { return len(locks(t, c, "df")) == 0 })
	var noSpace *wire.Error
	waitFor(t, liveWait, "the session's errors to name site-c and the full disk", func() bool {
		for _, e := range c.session("df").Status.Errors {
			if e.Host == "site-c" && e.Kind == wire.KindNoSpace {
				noSpace = &e
				return true
			}
		}
		return false
	})
	if noSpace.Path != rel {
		t.Errorf("the no-space error names %q, want %s", noSpace.Path, rel)
	}
	t.Logf("status error: %s", noSpace.Error())
	s := c.session("df")
	if s.Status.Phase != api.PhaseRunning {
		t.Errorf("session %s (%s) after the full disk, want it running", s.Status.Phase, s.Status.Reason)
	}
	for _, e := range s.Status.Errors {
		if e.Host != "site-c" {
			t.Errorf("unexpected error in the status: %s", e.Error())
		}
	}
	text := c.mustCLI("session", "status", "df")
	if !strings.Contains(text, "site-c") || !strings.Contains(text, "no space left") {
		t.Errorf("session status does not name site-c and the full disk:\n%s", text)
	}
	// Target protection keeps the copy it was about to replace before the
	// fetch (roles/agent/apply.go: a failed fetch leaves a redundant protected
	// copy, never a lost one): a second name of the old copy is all that
	// may be new below the root.
	for p, size := range filesBelow(t, c.root("site-c")) {
		if _, ok := before[p]; ok {
			continue
		}
		if !strings.HasPrefix(p, ".peerlink/protected/") || !strings.HasSuffix(p, "/"+rel) || size != int64(len(orig)) {
			t.Errorf("%s (%d bytes) left below site-c's root by the failed transfer", p, size)
		}
	}
	if tmp := tempFiles(t, c.root("site-c")); len(tmp) > 0 {
		t.Errorf("temp files left on site-c: %v", tmp)
	}

	// The session goes on.
	writeFile(t, c.root("site-a"), small, "small enough\n", time.Time{})
	waitFor(t, liveWait, small+" on site-b and site-c", func() bool {
		for _, h := range []string{"site-b", "site-c"} {
			b, err := os.ReadFile(livePath(c, h, small))
			if err != nil || string(b) != "small enough\n" {
				return false
			}
		}
		return true
	})
	if got := readFile(t, c.root("site-c"), rel); got != orig {
		t.Errorf("site-c's copy of %s now holds %d bytes, want its old copy", rel, len(got))
	}
}
