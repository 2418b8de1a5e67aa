//go:build linux

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"
)

// One writer saving again and again (a log appended and closed ten times a
// second) is one writer: every target ends with its last version, nothing
// goes to the File Conflict List, and a target applying a fetch is never
// taken for a second writer (issue 17, item 7).
func TestLiveRapidAppendsConverge(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	for _, h := range threeHosts {
		writeFile(t, c.root(h), "grow.log", "start\n", liveT0)
	}
	startLive(t, c, "append")

	chunk := bytes.Repeat([]byte("0123456789abcdef"), 200<<10/16) // 200 KiB
	p := livePath(c, "site-a", "grow.log")
	want := sha256.New()
	want.Write([]byte("start\n"))
	for i := 0; i < 60; i++ {
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
		want.Write(chunk)
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	wantHash := hex.EncodeToString(want.Sum(nil))
	converged(t, c, 2*liveWait, "site-a's last version everywhere", func(tr map[string]node) bool {
		return tr["grow.log"].Hash == wantHash
	})
	list, err := c.client().Conflicts(context.Background(), "append")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Errorf("one writer's saves put %d path(s) in the File Conflict List: %+v", len(list), list)
	}
	waitFor(t, liveWait, "no lock listed", func() bool {
		return strings.HasPrefix(c.mustCLI("locks", "append"), "no locks")
	})
}
