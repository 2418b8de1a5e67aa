//go:build linux

package e2e

import (
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/peerlink/peerlink/web/api"
)

// A transfer in flight is listed in the session's status (what the
// console's "Transfers in flight" shows) while it runs, and leaves the list
// when it is done. The target is held still with SIGSTOP so that "while it
// runs" lasts as long as the test needs, however fast loopback is.
func TestLiveTransferInFlight(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	const rel = "tx/model.bin"
	for _, h := range threeHosts {
		writeFile(t, c.root(h), rel, "v1\n", liveT0)
	}
	startLive(t, c, "tx")
	imm, _ := immutableWorks(t, c.dir)
	size := int64(4*api.TransferMinSize + 123)

	// The writer opens the file (the other copies are locked), then site-b
	// stops still before the new version is sent.
	f := openOn(t, c, "site-a", rel)
	waitFor(t, liveWait, "model.bin locked on site-b and site-c", func() bool {
		return lockedOn(t, c, "site-b", rel, imm) && lockedOn(t, c, "site-c", rel, imm)
	})
	b := c.proc("agent-site-b")
	if err := b.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			b.cmd.Process.Signal(syscall.SIGCONT)
		}
	}()
	rewrite(t, f, strings.Repeat("m", int(size)), true)
	var seen api.Transfer
	waitFor(t, liveWait, "the transfer to site-b listed in flight", func() bool {
		for _, x := range c.session("tx").Status.Transfers {
			if x.Path == rel && x.To == "site-b" {
				seen = x
				return true
			}
		}
		return false
	})
	if seen.From != "site-a" || seen.Size != size || seen.Done > seen.Size || seen.Started.IsZero() {
		t.Errorf("transfer listed as %+v, want from site-a, size %d", seen, size)
	}

	if err := b.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	waitFor(t, liveWait, "model.bin on site-b and site-c", func() bool {
		for _, h := range []string{"site-b", "site-c"} {
			fi, err := os.Stat(livePath(c, h, rel))
			if err != nil || fi.Size() != size {
				return false
			}
		}
		return true
	})
	waitFor(t, liveWait, "the transfers list to empty", func() bool {
		return len(c.session("tx").Status.Transfers) == 0
	})
}
