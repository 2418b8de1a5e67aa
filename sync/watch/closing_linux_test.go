package watch

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCloseOfOneOfTwoWriters: a file open for writing twice is Closed only
// at the last writer's close, in every mode that can tell (a read lease).
func TestCloseOfOneOfTwoWriters(t *testing.T) {
	if !leasesEnabled() {
		t.Skip("leases are disabled here (fs.leases-enable): a watcher cannot tell another writer")
	}
	for _, mode := range []Mode{Fanotify, Lease, InotifyOnly} {
		t.Run(mode.String(), func(t *testing.T) {
			root := t.TempDir()
			doc := filepath.Join(root, "doc.txt")
			write(t, doc, "v1")
			r := startMode(t, root, Options{Mode: mode})
			first, err := os.OpenFile(doc, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer first.Close()
			first.WriteString("v2") // InotifyOnly sees the write, not the open
			r.want(WriteOpen, "doc.txt")
			second, err := os.OpenFile(doc, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer second.Close()
			second.WriteAt([]byte("v3"), 0)
			first.Close()
			r.mark(root)
			r.drain(20 * rearmRetry) // the held-back close is looked at again
			if closed := r.saw(0, func(e Event) bool { return e.Op == Closed && e.Path == "doc.txt" }); len(closed) > 0 {
				t.Fatalf("Closed while a second writer still has the file open; seen:\n%s", r.dump())
			}
			second.Close()
			r.want(Closed, "doc.txt")
		})
	}
}
