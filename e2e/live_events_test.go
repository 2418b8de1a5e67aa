//go:build linux

package e2e

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/peerlink/peerlink/web/api"
)

// The session's event log records each lock, its release, and what was
// propagated (issue 5's Visibility), as the console and `GET …/events`
// show it.
func TestLiveEventLog(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	const doc, made = "ev/doc.txt", "ev/new.txt"
	for _, h := range threeHosts {
		writeFile(t, c.root(h), doc, "v1\n", liveT0)
	}
	startLive(t, c, "ev")
	imm, _ := immutableWorks(t, c.dir)

	f := openOn(t, c, "site-a", doc)
	waitFor(t, liveWait, "doc.txt locked on site-b and site-c", func() bool {
		return lockedOn(t, c, "site-b", doc, imm) && lockedOn(t, c, "site-c", doc, imm)
	})
	rewrite(t, f, "v2\n", true)
	waitFor(t, liveWait, "doc.txt released with v2 on site-b and site-c", func() bool {
		return releasedOn(t, c, "site-b", doc, "v2\n", 0o644) && releasedOn(t, c, "site-c", doc, "v2\n", 0o644)
	})
	if err := os.WriteFile(livePath(c, "site-b", made), []byte("made on b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, liveWait, "new.txt on site-a and site-c", func() bool {
		a, errA := os.ReadFile(livePath(c, "site-a", made))
		c2, errC := os.ReadFile(livePath(c, "site-c", made))
		return errA == nil && errC == nil && string(a) == "made on b\n" && string(c2) == "made on b\n"
	})

	// Each is in the log, newest first, with its host and path.
	want := []struct{ kind, host, path, msg string }{
		{"lock", "site-a", doc, "locked on site-b, site-c"},
		{"unlock", "site-a", doc, "modified on site-a and propagated"},
		{"transfer", "site-b", made, "from site-b to site-a, site-c"},
	}
	var evs []api.Event
	defer func() {
		if t.Failed() {
			for _, e := range evs {
				t.Logf("event: %s %s %s %s", e.Kind, e.Host, e.Path, e.Msg)
			}
		}
	}()
	waitFor(t, liveWait, "the events in the session's log", func() bool {
		var err error
		evs, err = c.client().Events(context.Background(), "ev", api.EventQuery{})
		if err != nil {
			return false
		}
		for _, w := range want {
			found := false
			for _, e := range evs {
				if e.Kind == w.kind && e.Host == w.host && e.Path == w.path && strings.Contains(e.Msg, w.msg) {
					found = true
				}
			}
			if !found {
				return false
			}
		}
		return true
	})
	for i := 1; i < len(evs); i++ {
		if evs[i].Seq >= evs[i-1].Seq {
			t.Fatalf("the log is not newest first: %+v", evs)
		}
	}
	// The kind filter gives only that kind.
	locks, err := c.client().Events(context.Background(), "ev", api.EventQuery{Kind: "lock"})
	if err != nil {
		t.Fatal(err)
	}
	if len(locks) == 0 {
		t.Fatal("no lock event through the kind filter")
	}
	for _, e := range locks {
		if e.Kind != "lock" {
			t.Errorf("kind filter lock returned %+v", e)
		}
	}
}
