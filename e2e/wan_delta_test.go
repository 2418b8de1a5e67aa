//go:build linux

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/peerlink/peerlink/testkit/wanlink"
	"github.com/peerlink/peerlink/web/api"
)

// Issue 11's proof through an emulated WAN (testkit/wanlink): site-b, the
// target, reaches the broker through a link with a short round trip, so
// that the bytes it receives are counted on a wire, and so that the link
// can be slowed or reset while a file is under way.

// wanShape is the link of these tests: a short round trip, so they stay
// fast, at the 50 Mbit/s.
var wanShape = wanlink.Shape{RTT: 10 * time.Millisecond, Rate: 50e6 / 8}

// randomBytes returns n bytes of seed's random stream: incompressible, so
// what crosses the link is what the transfer chose to send.
func randomBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for k := 0; k < 8 && i+k < n; k++ {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	return b
}

func hashHex(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// fileHash returns the hash of root's rel, or "" if it cannot be read.
func fileHash(root, rel string) string {
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		return ""
	}
	return hashHex(b)
}

// wanDeltaCluster starts site-a directly and site-b through a link shaped
// wanShape, with rel holding content on both, and starts session name on
// them clean. It returns site-b's agent and link.
func wanDeltaCluster(t *testing.T, name, rel string, content []byte) (*cluster, *proc, *wanlink.Link) {
	t.Helper()
	c := liveCluster(t)
	for _, h := range []string{"site-a", "site-b"} {
		writeFile(t, c.root(h), rel, string(content), liveT0)
	}
	written := time.Now()
	c.startAgent("site-a")
	agentB, link := c.startAgentLinked("site-b", wanShape)
	c.createSession(name, []string{"site-a", "site-b"})
	time.Sleep(time.Until(written.Add(settledAfter)))
	startClean(t, c, name)
	return c, agentB, link
}

// A target behind the WAN link that holds an older copy of a 4 MiB file
// receives the 1 KiB inserted in its middle, live and at a session's
// start, not the file: the bytes that cross its link towards it are a
// small fraction of the file, and the copies end byte-identical.
func TestDeltaOverEmulatedWANLiveAndAtStart(t *testing.T) {
	t.Parallel()
	const rel = "models/plant.rvt"
	hosts := []string{"site-a", "site-b"}
	content := randomBytes(4<<20, 11)
	c, agentB, link := wanDeltaCluster(t, "wandelta", rel, content)

	// moved applies change and returns the bytes that went down site-b's
	// link until site-b logged its lines-th delta line for rel and both
	// hosts hold want.
	moved := func(when string, want []byte, lines int, change func()) int64 {
		t.Helper()
		_, before := link.Bytes()
		change()
		wantHash := hashHex(want)
		sameOn(t, c, hosts, liveWait, "site-a's new version on both hosts "+when, func(tr map[string]node) bool {
			return tr[rel].Hash == wantHash
		})
		waitFor(t, liveWait, "site-b's delta line "+when, func() bool { return len(deltaLines(t, agentB, rel)) >= lines })
		_, after := link.Bytes()
		got := deltaLines(t, agentB, rel)
		if len(got) != lines {
			t.Fatalf("%s: site-b logged %d delta lines for %s, want %d: %+v", when, len(got), rel, lines, got)
		}
		if l := got[lines-1]; !l.OK || l.Fallback != "" || l.Size != int64(len(want)) || l.Received+l.BasisReused != l.Size {
			t.Errorf("%s: site-b's delta %+v; want the file rebuilt from its old copy", when, l)
		}
		wire := after - before
		t.Logf("%s: %d bytes down site-b's link (%s) for a file of %d bytes (%.2f%%); delta line %+v",
			when, wire, link.Shape(), len(want), 100*float64(wire)/float64(len(want)), got[lines-1])
		if wire >= int64(len(want))/5 {
			t.Errorf("%s: %d bytes went down site-b's link for a 1 KiB insertion in a file of %d bytes; want under a fifth of it",
				when, wire, len(want))
		}
		return wire
	}

	content = insertMiddle(content, 1024, 1)
	moved("live", content, 1, func() {
		if err := os.WriteFile(livePath(c, "site-a", rel), content, 0o644); err != nil {
			t.Fatal(err)
		}
	})

	c.mustCLI("session", "stop", "wandelta")
	content = insertMiddle(content, 1024, 2)
	if err := os.WriteFile(livePath(c, "site-a", rel), content, 0o644); err != nil {
		t.Fatal(err)
	}
	moved("at start", content, 2, func() { startClean(t, c, "wandelta") })
	for _, h := range hosts {
		if tmp := tempFiles(t, c.root(h)); len(tmp) != 0 {
			t.Errorf("%s holds temp files: %v", h, tmp)
		}
	}
}

// A user saves site-b's copy while the delta that replaces it is being
// rebuilt from it (the link slowed so that the rebuild takes a moment;
// the temp file's appearance says it has begun). The agent checks the
// copy against the one the hub planned from (op.Have) before the rename:
// the rebuilt file, made from a basis that changed under it, never lands,
// and no whole fetch is made for a copy the commit would refuse. The start
// reports the refused fetch; site-b's save is then a change like any
// other, which the session sends to site-a. No host ever holds anything
// but a version that was written, and no temp file is left.
func TestDeltaOverEmulatedWANBasisChangedInFlight(t *testing.T) {
	t.Parallel()
	const rel = "models/plant.rvt"
	hosts := []string{"site-a", "site-b"}
	v0 := randomBytes(4<<20, 21)
	c, agentB, link := wanDeltaCluster(t, "wanbasis", rel, v0)
	rootB := c.root("site-b")

	c.mustCLI("session", "stop", "wanbasis")
	v1 := insertMiddle(v0, 1024, 1)
	if err := os.WriteFile(livePath(c, "site-a", rel), v1, 0o644); err != nil {
		t.Fatal(err)
	}
	// site-b's user appends to its copy, in place: the open basis sees it.
	v2 := append(append([]byte(nil), v0...), "edited on site-b"...)
	h0, h1, h2 := hashHex(v0), hashHex(v1), hashHex(v2)

	// About 20 KB go down for the delta (chunk lists and the changed
	// chunks): at 8 KB/s the rebuild takes seconds, the save a moment.
	slow := wanlink.Shape{RTT: wanShape.RTT, Rate: 8_000}
	if err := link.Reshape(slow); err != nil {
		t.Fatal(err)
	}
	started := time.Now()
	c.mustCLI("session", "start", "wanbasis")
	waitFor(t, liveWait, "site-b's rebuild to begin (a temp file)", func() bool {
		if h := fileHash(rootB, rel); h != h0 {
			t.Fatalf("site-b's copy changed before its user saved it: %s, want v0 %s", h, h0)
		}
		return len(tempFiles(t, rootB)) > 0
	})
	if err := os.WriteFile(livePath(c, "site-b", rel), v2, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := link.Reshape(wanShape); err != nil {
		t.Fatal(err)
	}

	// From the save on: site-b holds its user's version and nothing else;
	// site-a holds its own, until site-b's comes.
	allowed := map[string]map[string]bool{"site-a": {h1: true, h2: true}, "site-b": {h2: true}}
	check := func() {
		t.Helper()
		for _, h := range hosts {
			if got := fileHash(c.root(h), rel); !allowed[h][got] {
				t.Fatalf("%s holds %s (%q if unreadable): neither v1 %s nor site-b's v2 %s", h, rel, got, h1, h2)
			}
		}
	}
	waitFor(t, liveWait, "the start to end", func() bool {
		check()
		s := c.session("wanbasis")
		return s.Status.Phase == api.PhaseRunning && !s.Status.Started.Before(started)
	})
	s := c.session("wanbasis")
	if s.Status.ErrorCount != 1 || len(s.Status.Errors) != 1 || s.Status.Errors[0].Host != "site-b" || s.Status.Errors[0].Path != rel {
		t.Errorf("after the start: %d errors %+v; want site-b's refused fetch of %s", s.Status.ErrorCount, s.Status.Errors, rel)
	}
	waitFor(t, liveWait, "site-b's version on both hosts", func() bool {
		check()
		return fileHash(c.root("site-a"), rel) == h2
	})
	for _, h := range hosts {
		if tmp := tempFiles(t, c.root(h)); len(tmp) != 0 {
			t.Errorf("%s holds temp files: %v", h, tmp)
		}
	}
	got := deltaLines(t, agentB, rel)
	if len(got) != 1 || got[0].OK || got[0].Fallback != "" || got[0].Received >= int64(len(v1))/5 {
		t.Errorf("site-b's delta lines %+v; want one, refused, without a whole fetch", got)
	}
	t.Logf("site-b's delta: %+v; start errors %+v", got, s.Status.Errors)
}

// site-b's link is reset after 1 MiB of a 4 MiB file it is receiving (a
// new version with nothing in common with its copy), and stays down until
// healed. The old copy stays in place throughout (site-b holds the old
// version or the new one whenever it is looked at, never a part), no temp
// file is left, and once the link is back the session runs again and the
// file converges.
func TestDeltaOverEmulatedWANLinkResetMidTransfer(t *testing.T) {
	t.Parallel()
	const rel = "models/site.dwg"
	hosts := []string{"site-a", "site-b"}
	v0 := randomBytes(4<<20, 31)
	c, p, link := wanDeltaCluster(t, "wanreset", rel, v0)
	rootB := c.root("site-b")
	v1 := randomBytes(4<<20, 32)
	h0, h1 := hashHex(v0), hashHex(v1)
	oldOrNew := func() string {
		t.Helper()
		got := fileHash(rootB, rel)
		if got != h0 && got != h1 {
			t.Fatalf("site-b holds %s as %q (empty if unreadable): neither the old version %s nor the new %s", rel, got, h0, h1)
		}
		return got
	}

	const after = 1 << 20
	if err := link.ResetAfter(after); err != nil {
		t.Fatal(err)
	}
	_, before := link.Bytes()
	if err := os.WriteFile(livePath(c, "site-a", rel), v1, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, liveWait, "site-b's link to be reset", func() bool {
		oldOrNew()
		return link.Resets() > 0
	})
	// At most 1 MiB of the 4 went down before the reset: the transfer was
	// under way, and the old copy is still in place.
	if got := oldOrNew(); got != h0 {
		t.Fatalf("site-b holds the new version right after its link was reset %d bytes into it", after)
	}
	c.waitAgent("site-b", false, nil)
	if got := oldOrNew(); got != h0 {
		t.Fatalf("site-b holds the new version while its link is down")
	}

	if err := link.Heal(); err != nil {
		t.Fatal(err)
	}
	c.waitAgent("site-b", true, p)
	// The session went on without site-b; it catches site-b up.
	waitLive(t, c, "wanreset", "site-b")
	waitFor(t, liveWait, "the new version on site-b", func() bool { return oldOrNew() == h1 })
	sameOn(t, c, hosts, liveWait, "the new version on both hosts", func(tr map[string]node) bool { return tr[rel].Hash == h1 })
	for _, h := range hosts {
		if tmp := tempFiles(t, c.root(h)); len(tmp) != 0 {
			t.Errorf("%s holds temp files after the file converged: %v", h, tmp)
		}
	}
	// The count includes what the link read from the broker and dropped
	// at the reset.
	_, down := link.Bytes()
	t.Logf("%d connection(s) reset; %d bytes down site-b's link from the write to convergence, for a %d-byte file; delta lines %+v",
		link.Resets(), down-before, len(v1), deltaLines(t, p, rel))
}
