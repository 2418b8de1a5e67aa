//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// deltaLine is an agent's report of a file it received by delta.
type deltaLine struct {
	Message     string `json:"message"`
	Path        string `json:"path"`
	Size        int64  `json:"size"`
	Received    int64  `json:"received"`
	BasisReused int64  `json:"basis_reused"`
	Fallback    string `json:"fallback"`
	OK          bool   `json:"ok"`
}

func deltaLines(t *testing.T, p *proc, path string) []deltaLine {
	t.Helper()
	b, err := os.ReadFile(p.log)
	if err != nil {
		t.Fatal(err)
	}
	var out []deltaLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var l deltaLine
		if json.Unmarshal(sc.Bytes(), &l) == nil && l.Message == "delta" && l.Path == path {
			out = append(out, l)
		}
	}
	return out
}

// insertMiddle returns b with n random bytes inserted at its middle.
func insertMiddle(b []byte, n int, seed uint64) []byte {
	ins := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range ins {
		ins[i] = byte(r.Uint32())
	}
	at := len(b) / 2
	return append(append(append([]byte(nil), b[:at]...), ins...), b[at:]...)
}

// A target that holds an older copy of a large file receives only what
// differs, live and at a session's start: 1 KiB inserted in the middle of
// a 6 MiB file, which shifts everything after it, moves a small fraction
// of the file, and the copies end byte-identical.
func TestDeltaLiveAndAtStart(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	hosts := []string{"site-a", "site-b"}
	const rel = "models/plant.rvt"
	r := rand.New(rand.NewPCG(42, 42))
	content := make([]byte, 6<<20)
	for i := 0; i < len(content); i += 8 {
		v := r.Uint64()
		for k := range 8 {
			content[i+k] = byte(v >> (8 * k))
		}
	}
	for _, h := range hosts {
		writeFile(t, c.root(h), rel, string(content), liveT0)
	}
	written := time.Now()
	for _, h := range hosts {
		c.startAgent(h)
	}
	c.createSession("delta", hosts)
	time.Sleep(time.Until(written.Add(settledAfter)))
	startClean(t, c, "delta")
	agentB := c.proc("agent-site-b")

	hashOf := func(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }
	check := func(want []byte, lines int, when string) {
		t.Helper()
		wantHash := hashOf(want)
		sameOn(t, c, hosts, liveWait, "site-a's new version on both hosts "+when, func(tr map[string]node) bool {
			return tr[rel].Hash == wantHash
		})
		got := deltaLines(t, agentB, rel)
		if len(got) != lines {
			t.Fatalf("%s: site-b logged %d delta lines for %s, want %d: %+v", when, len(got), rel, lines, got)
		}
		l := got[lines-1]
		if !l.OK || l.Fallback != "" || l.Size != int64(len(want)) || l.Received > int64(len(want))/10 || l.Received+l.BasisReused != l.Size {
			t.Errorf("%s: site-b's delta %+v; want the file rebuilt from its old copy, receiving under a tenth of %d bytes", when, l, len(want))
		}
		t.Logf("%s: %d of %d bytes received, %d reused", when, l.Received, l.Size, l.BasisReused)
	}

	// Live: a save that inserts 1 KiB in the middle.
	content = insertMiddle(content, 1024, 1)
	if err := os.WriteFile(livePath(c, "site-a", rel), content, 0o644); err != nil {
		t.Fatal(err)
	}
	check(content, 1, "live")

	// At start: site-a's copy changed while the session was stopped.
	c.mustCLI("session", "stop", "delta")
	content = insertMiddle(content, 1024, 2)
	if err := os.WriteFile(livePath(c, "site-a", rel), content, 0o644); err != nil {
		t.Fatal(err)
	}
	startClean(t, c, "delta")
	check(content, 2, "at start")

	// With delta turned off for the session, the file goes whole.
	c.mustCLI("session", "stop", "delta")
	c.mustCLI("session", "set", "delta", "--delta=false")
	content = insertMiddle(content, 1024, 3)
	if err := os.WriteFile(livePath(c, "site-a", rel), content, 0o644); err != nil {
		t.Fatal(err)
	}
	startClean(t, c, "delta")
	wantHash := hashOf(content)
	sameOn(t, c, hosts, liveWait, "site-a's third version on both hosts", func(tr map[string]node) bool {
		return tr[rel].Hash == wantHash
	})
	if got := deltaLines(t, agentB, rel); len(got) != 2 {
		t.Errorf("with --delta=false site-b logged %d delta lines, want the 2 from before: %+v", len(got), got)
	}
}
