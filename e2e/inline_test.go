//go:build linux

package e2e

import (
	"bytes"
	"fmt"
	"github.com/peerlink/peerlink/testkit/ports"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A small file's change carries its content (wire.Inline): the hub passes
// it on with the op, and the target writes it without asking the source,
// whether the file came in new or was saved in place by a writer (whose
// close carries the content). site-a's reads served for others stay at
// none until a large file, which only a read can bring, makes them count.
func TestLiveSmallFileContentNeedsNoRequestToTheSource(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	metricsA := ports.Free(t)
	c.start("agent-site-a", "agent", "--name", "site-a", "--broker", c.brokerWS, "--token-file", c.tokenFile(),
		"--data", filepath.Join(c.dir, "agent-site-a"), "--metrics-listen", fmt.Sprintf("127.0.0.1:%d", metricsA))
	c.waitAgent("site-a", true, nil)
	c.startAgent("site-b")
	rootA, rootB := c.root("site-a"), c.root("site-b")
	c.createSession("inline", []string{"site-a", "site-b"})
	c.mustCLI("session", "start", "inline", "--wait")
	served := func() float64 {
		code, page := scrape(t, fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsA), "", "")
		if code != 200 {
			t.Fatalf("site-a's metrics: %d", code)
		}
		v, _ := metricValue(page, "peerlink_agent_reads_served_total", "session=inline")
		return v
	}
	arrives := func(rel string, want []byte) {
		t.Helper()
		waitFor(t, liveWait, "site-b holding "+rel, func() bool {
			b, err := os.ReadFile(filepath.Join(rootB, rel))
			return err == nil && bytes.Equal(b, want)
		})
	}

	// Put in place by a rename from outside the root, as a copy tool does.
	outside := t.TempDir()
	place := func(rel string, content []byte) {
		t.Helper()
		tmp := filepath.Join(outside, filepath.Base(rel))
		if err := os.WriteFile(tmp, content, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(rootA, rel)); err != nil {
			t.Fatal(err)
		}
	}
	small := []byte(strings.Repeat("a small file, sent with its change\n", 100))
	place("small.txt", small)
	arrives("small.txt", small)
	place("empty.txt", nil)
	arrives("empty.txt", []byte{})

	// Saved in place: a write-open, then the close with the new content.
	saved := []byte(strings.Repeat("saved in place by its writer\n", 50))
	f, err := os.OpenFile(filepath.Join(rootA, "small.txt"), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(saved); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	arrives("small.txt", saved)
	if n := served(); n != 0 {
		t.Fatalf("site-a answered %v reads for three small files: their content did not travel with their changes", n)
	}

	large := bytes.Repeat([]byte("large file, fetched from its source\n"), 4000) // 144 KB: above wire.InlineMax
	place("large.txt", large)
	arrives("large.txt", large)
	if n := served(); n == 0 {
		t.Fatalf("site-a answered no read for a large file: the metric counts nothing, so the test proves nothing")
	}
}
