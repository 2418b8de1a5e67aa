//go:build linux && !watch_fsnotify

package watch

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A reader's open is looked up in /proc, and looked up again for most of a
// second when its descriptor is not found (on a busy machine the reader
// has often closed it by then). Meanwhile the file may be replaced (a
// fetch renames a new copy over it) and its inode number given to a new
// file that the same process holds open for writing (the e2e test binary
// always holds its processes' log files so). The reader of the old file
// is no writer of the path for that: a write-open is reported only of the
// file that is at the path.
func TestFanotifyInodeReusedByWriter(t *testing.T) {
	root := t.TempDir()
	doc := filepath.Join(root, "doc.txt")
	write(t, doc, "v1")
	var st unix.Stat_t
	if err := unix.Stat(doc, &st); err != nil {
		t.Fatal(err)
	}
	old := st.Ino
	// The first look at the opener misses its descriptor, as when the
	// reader closed it before the watcher looked.
	var once sync.Once
	var pretend atomic.Bool
	looked := make(chan struct{})
	openerWrites = func(pid int, dev, ino uint64) (bool, bool, bool) {
		if ino == old {
			missed := false
			once.Do(func() { missed = true; close(looked) })
			switch {
			case missed:
				return false, false, true
			case pretend.Load():
				return true, true, true
			}
		}
		return procOpenerWrites(pid, dev, ino)
	}
	t.Cleanup(func() { openerWrites = procOpenerWrites })
	// Looked up again for three seconds: longer than the set-up below.
	savedRetry := fanRetry
	fanRetry = slices.Repeat([]time.Duration{500 * time.Millisecond}, 6)
	t.Cleanup(func() { fanRetry = savedRetry })
	r := startMode(t, root, Options{Mode: Fanotify})

	f, err := os.Open(doc)
	if err != nil {
		t.Fatal(err)
	}
	<-looked
	f.Close()
	next := filepath.Join(root, ".next")
	write(t, next, "v2")
	if err := os.Rename(next, doc); err != nil {
		t.Fatal(err)
	}
	// New files, held open for writing, until one takes the old inode
	// number: the watcher is still looking for the reader.
	reused := false
	for i := 0; i < 50 && !reused; i++ {
		h, err := os.OpenFile(filepath.Join(root, fmt.Sprint("new", i)), os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		if err := unix.Fstat(int(h.Fd()), &st); err != nil {
			t.Fatal(err)
		}
		reused = st.Ino == old
	}
	if !reused {
		// Another process took it, or this file system does not give
		// numbers again so soon: /proc answers as if it had.
		pretend.Store(true)
	}
	quiet := time.After(5 * time.Second) // longer than the look-ups go on (fanRetry)
	for {
		select {
		case ev := <-r.w.Events():
			if ev.Op == WriteOpen && ev.Path == "doc.txt" {
				t.Fatalf("a read of the replaced doc.txt reported as a write-open: its inode number now names another file, open for writing: %v", ev)
			}
		case <-quiet:
			return
		}
	}
}
