//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// What the agent cannot synchronise while a session runs is said at once,
// not only at the next start (issue 17, item 9): a named pipe, a socket and
// a name that is not valid UTF-8, made on site-a, each get a warning in the
// session's status that names the path, and none of them reaches another
// host.
func TestLiveSkippedPathsAreWarned(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	for _, h := range threeHosts {
		writeFile(t, c.root(h), "keep.txt", "keep\n", liveT0)
	}
	startLive(t, c, "skip")

	if err := syscall.Mkfifo(livePath(c, "site-a", "queue.fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	sock := livePath(c, "site-a", "app.sock")
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: sock}); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(c.root("site-a"), "bad\xffname.txt")
	if err := os.WriteFile(bad, []byte("latin-1 name\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeFile(t, c.root("site-a"), "after.txt", "after\n", liveT0)

	want := []string{"named pipe queue.fifo skipped", "socket app.sock skipped", "bad\uFFFDname.txt skipped: "}
	waitFor(t, liveWait, "a warning for each skipped path in the session's status", func() bool {
		ws := strings.Join(c.session("skip").Status.Warnings, "\n")
		for _, w := range want {
			if !strings.Contains(ws, w) {
				return false
			}
		}
		return true
	})
	waitFor(t, liveWait, "after.txt on site-b and site-c", func() bool {
		for _, h := range []string{"site-b", "site-c"} {
			if _, err := os.Stat(livePath(c, h, "after.txt")); err != nil {
				return false
			}
		}
		return true
	})
	for _, h := range []string{"site-b", "site-c"} {
		for _, p := range []string{"queue.fifo", "app.sock"} {
			if _, err := os.Lstat(livePath(c, h, p)); err == nil {
				t.Errorf("%s reached %s", p, h)
			}
		}
		if _, err := os.Lstat(filepath.Join(c.root(h), "bad\xffname.txt")); err == nil {
			t.Errorf("the non-UTF-8 name reached %s", h)
		}
	}
	text := c.mustCLI("session", "status", "skip")
	if !strings.Contains(text, "queue.fifo") {
		t.Errorf("session status does not show the warning:\n%s", text)
	}
}
