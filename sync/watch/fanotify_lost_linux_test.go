//go:build linux && !watch_fsnotify

package watch

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestFanotifyOverflowIsOpensLost: when fanotify's queue overflows, only
// write-opens were lost (changes and closes come by inotify), so it is
// reported as OpensLost, not as an Overflow that would make the agent
// rescan its whole root. fanotify's mark covers the whole file system:
// any busy process on it (a build, a backup, another agent) can overflow
// the queue, and a rescan of a root of 100,000 files for each overflow is
// what made peerlink's start-ups crawl on a busy machine.
func TestFanotifyOverflowIsOpensLost(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("fanotify and lowering fs.fanotify.max_queued_events need root")
	}
	const sysctl = "/proc/sys/fs/fanotify/max_queued_events"
	saved, err := os.ReadFile(sysctl)
	if err != nil {
		t.Skip(err)
	}
	orig := fanotifyInit
	t.Cleanup(func() { fanotifyInit = orig })
	fanotifyInit = func() (int, error) {
		// The queue size is taken when the group is made: lower it for
		// just that moment.
		if err := os.WriteFile(sysctl, []byte("16"), 0); err != nil {
			return -1, err
		}
		defer os.WriteFile(sysctl, saved, 0)
		return orig()
	}
	root := t.TempDir()
	for i := range 200 {
		write(t, filepath.Join(root, fmt.Sprintf("f%03d", i)), "x")
	}
	r := startMode(t, root, Options{Mode: Fanotify})
	fanotifyInit = orig
	if now, _ := os.ReadFile(sysctl); string(now) != string(saved) {
		t.Fatalf("%s not restored: %q, was %q", sysctl, now, saved)
	}
	// Nobody reads: the events channel, the loop, the write-opens' channel
	// and then fanotify's 16-event queue fill up with this process's
	// write-opens. Each is also an inotify event or two, far below
	// inotify's queue.
	for range 5 {
		for i := range 200 {
			f, err := os.OpenFile(filepath.Join(root, fmt.Sprintf("f%03d", i)), os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
	r.waitFor("OpensLost", func(e Event) bool { return e.Op == OpensLost })
	r.drain(500 * time.Millisecond)
	for _, e := range r.seen {
		if e.Op == Overflow {
			t.Errorf("an Overflow among the events: fanotify's losses must not make the agent rescan")
		}
	}
}
