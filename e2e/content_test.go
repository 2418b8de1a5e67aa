//go:build linux

package e2e

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/web/api"
)

var threeHosts = []string{"site-a", "site-b", "site-c"}

// copyAt is one host's copy of a path in a conflict case.
type copyAt struct {
	content string
	mtime   time.Time
}

// conflictCase is one path held with different copies on the hosts, and
// the copy every host must end with.
type conflictCase struct {
	path   string
	copies map[string]copyAt // by host; a missing host has no copy
	want   copyAt
	why    string
}

func shaHex(s string) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(s))) }

// writeCases puts every case's copies on the hosts' roots, checking that
// the file system keeps the nanoseconds the cases depend on.
func writeCases(t *testing.T, c *cluster, cases []conflictCase) {
	t.Helper()
	for _, cc := range cases {
		for host, cp := range cc.copies {
			writeFile(t, c.root(host), cc.path, cp.content, cp.mtime)
			fi, err := os.Stat(filepath.Join(c.root(host), filepath.FromSlash(cc.path)))
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.ModTime().UnixNano(); got != cp.mtime.UnixNano() {
				t.Fatalf("the temp file system keeps mtime %d for %d: this test needs nanosecond timestamps", got, cp.mtime.UnixNano())
			}
		}
	}
}

// checkCases asserts that every host ends with each case's wanted content
// and the wanted copy's exact modification time. With truncate, a host that
// already held the wanted content in the same whole second keeps its own
// time: under --truncate-ms those times are equal and need no change.
func checkCases(t *testing.T, c *cluster, cases []conflictCase, truncate bool) {
	t.Helper()
	for _, host := range threeHosts {
		tree := snapshot(t, c.root(host))
		for _, cc := range cases {
			want := cc.want.mtime.UnixNano()
			if own, ok := cc.copies[host]; truncate && ok && own.content == cc.want.content && own.mtime.Unix() == cc.want.mtime.Unix() {
				want = own.mtime.UnixNano()
			}
			n, ok := tree[cc.path]
			switch {
			case !ok:
				t.Errorf("%s %s: missing after the sync", host, cc.path)
			case n.Hash != shaHex(cc.want.content):
				t.Errorf("%s %s: ended with the wrong content (%s); want %q: %s", host, cc.path, n, cc.want.content, cc.why)
			case n.Mtime != want:
				t.Errorf("%s %s: ended with mtime %d, want %d: %s", host, cc.path, n.Mtime, want, cc.why)
			}
		}
	}
}

// syncedClean fails the test unless the session's last start synchronised
// without a single failed file.
func syncedClean(t *testing.T, s api.Session) {
	t.Helper()
	if s.Status.Phase != api.PhaseRunning || s.Status.ErrorCount != 0 {
		t.Fatalf("session %s: phase %s, %d errors %v, reason %q; want running without errors",
			s.Name, s.Status.Phase, s.Status.ErrorCount, s.Status.Errors, s.Status.Reason)
	}
}

// The same path with different content on the hosts ends with the newest
// copy on every host, its modification time kept to the nanosecond. Times
// that differ by a nanosecond or by less than a second decide as much as
// hours do, and the newest copy wins even against content most hosts hold.
func TestNewestCopyWins(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	base := time.Date(2026, 4, 2, 9, 30, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return base.Add(d) }
	cases := []conflictCase{{
		path: "report.txt",
		copies: map[string]copyAt{
			"site-a": {"report v1 from a\n", at(0)},
			"site-b": {"report v3 from b, the newest\n", at(time.Hour + 123456789)},
			"site-c": {"report v2 from c\n", at(30 * time.Minute)},
		},
		want: copyAt{"report v3 from b, the newest\n", at(time.Hour + 123456789)},
		why:  "site-b's copy is an hour newer",
	}, {
		// Milliseconds, not nanoseconds, apart: since issue 14 a conflict
		// closer than the hosts' measured clock skew (tens of
		// microseconds on loopback, measurement error included) is
		// quarantined as clock-skew, not decided (TestClockSkewQuarantine).
		path: "nanos.txt",
		copies: map[string]copyAt{
			"site-a": {"a: 5 ms\n", at(5 * time.Millisecond)},
			"site-b": {"b: 7 ms, newest by a millisecond\n", at(7*time.Millisecond + 3)},
			"site-c": {"c: 6 ms\n", at(6*time.Millisecond + 3)},
		},
		want: copyAt{"b: 7 ms, newest by a millisecond\n", at(7*time.Millisecond + 3)},
		why:  "site-b's copy is the newest by a millisecond, beyond the clocks' skew",
	}, {
		path: "subsecond.txt",
		copies: map[string]copyAt{
			"site-a": {"X from a, 900 ms\n", at(900 * time.Millisecond)},
			"site-b": {"Y held by two hosts\n", at(100 * time.Millisecond)},
			"site-c": {"Y held by two hosts\n", at(200 * time.Millisecond)},
		},
		want: copyAt{"X from a, 900 ms\n", at(900 * time.Millisecond)},
		why:  "without --truncate-ms the milliseconds count: site-a's copy is newest",
	}, {
		path: "majority.txt",
		copies: map[string]copyAt{
			"site-a": {"old, held by two hosts\n", at(0)},
			"site-b": {"old, held by two hosts\n", at(0)},
			"site-c": {"new from c\n", at(time.Second)},
		},
		want: copyAt{"new from c\n", at(time.Second)},
		why:  "the newest copy wins even against content most hosts hold",
	}, {
		path: "docs/partial.txt",
		copies: map[string]copyAt{
			"site-a": {"partial from a\n", at(2 * time.Hour)},
			"site-c": {"partial from c, newest\n", at(3*time.Hour + 1)},
		},
		want: copyAt{"partial from c, newest\n", at(3*time.Hour + 1)},
		why:  "site-c's copy is newest; site-b, which had none, gets it too",
	}, {
		path: "same.txt",
		copies: map[string]copyAt{
			"site-a": {"same content everywhere\n", at(1)},
			"site-b": {"same content everywhere\n", at(3)},
			"site-c": {"same content everywhere\n", at(2)},
		},
		want: copyAt{"same content everywhere\n", at(3)},
		why:  "equal content, every host takes the latest modification time",
	}}
	writeCases(t, c, cases)
	for _, h := range threeHosts {
		c.startAgent(h)
	}
	c.createSession("newest", threeHosts)
	c.mustCLI("session", "start", "newest", "--wait")
	s := c.session("newest")
	syncedClean(t, s)
	sameTrees(t, c.root("site-a"), c.root("site-b"), c.root("site-c"))
	checkCases(t, c, cases, false)
	// Two hosts fetch each of the five contested files; same.txt differs in
	// its time only, which needs no transfer.
	if s.Status.Files.Total != 10 || s.Status.Files.Done != 10 {
		t.Errorf("files %d/%d, want 10/10", s.Status.Files.Done, s.Status.Files.Total)
	}
}

// With --truncate-ms times are compared in whole seconds, and copies whose
// times differ only below the second are tied: the tie goes to the content
// held by the most hosts, then to the copy on the host first in the
// session's host order (conflict/doc.go). Among the holders of the winning
// content the exact latest time is the one the hosts that fetch it get; a
// host that holds that content in the same second already keeps its own
// time. Every case is built so that "newest by nanoseconds", and "first
// host by name", would pick another copy.
func TestTruncateMsTieRule(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	T := time.Date(2026, 4, 2, 10, 0, 0, 0, time.UTC)
	ms := func(n int) time.Time { return T.Add(time.Duration(n) * time.Millisecond) }
	cases := []conflictCase{{
		path: "majority.txt",
		copies: map[string]copyAt{
			"site-a": {"Y: held by two hosts\n", ms(100)},
			"site-b": {"Y: held by two hosts\n", ms(200)},
			"site-c": {"X: newest by 700 ms, on the first host, held by one host\n", ms(900)},
		},
		want: copyAt{"Y: held by two hosts\n", ms(200)},
		why:  "same second: the content held by two hosts wins over the first host's, with the later exact time of its two copies",
	}, {
		path: "first-host.txt",
		copies: map[string]copyAt{
			"site-a": {"A: newest by nanoseconds, first by name\n", ms(900)},
			"site-b": {"B\n", ms(500)},
			"site-c": {"C: oldest, but on the first host of the session\n", ms(100)},
		},
		want: copyAt{"C: oldest, but on the first host of the session\n", ms(100)},
		why:  "same second, one host each: site-c comes first in the session's host order",
	}, {
		path: "first-host-of-two.txt",
		copies: map[string]copyAt{
			"site-a": {"A: older, but site-a comes before site-b\n", ms(100)},
			"site-b": {"B: newest by nanoseconds\n", ms(999)},
		},
		want: copyAt{"A: older, but site-a comes before site-b\n", ms(100)},
		why:  "same second, one host each: of the holders site-a comes first in the session's host order",
	}, {
		path: "later-second.txt",
		copies: map[string]copyAt{
			"site-a": {"A: in the next second\n", ms(1001)},
			"site-b": {"B: held by two hosts\n", ms(999)},
			"site-c": {"B: held by two hosts\n", ms(999)},
		},
		want: copyAt{"A: in the next second\n", ms(1001)},
		why:  "a later whole second wins before the number of holders counts",
	}, {
		path: "same-content.txt",
		copies: map[string]copyAt{
			"site-a": {"same\n", ms(100)},
			"site-b": {"same\n", ms(300)},
			"site-c": {"same\n", ms(200)},
		},
		want: copyAt{"same\n", ms(300)},
		why:  "equal content in one second: no copy needs a change",
	}}
	writeCases(t, c, cases)
	for _, h := range threeHosts {
		c.startAgent(h)
	}
	order := []string{"site-c", "site-a", "site-b"}
	c.createSession("truncated", order, "--truncate-ms")
	s := c.session("truncated")
	if !s.Options.TruncateMs {
		t.Fatal("session created with --truncate-ms does not have the option")
	}
	for i, h := range s.Hosts {
		if h.Host != order[i] {
			t.Fatalf("session hosts %v, want the order %v as created", s.Hosts, order)
		}
	}
	c.mustCLI("session", "start", "truncated", "--wait")
	syncedClean(t, c.session("truncated"))
	checkCases(t, c, cases, true)
	// Compared as --truncate-ms compares, every host holds the same tree.
	seconds := func(root string) map[string]node {
		tree := snapshot(t, root)
		for p, n := range tree {
			n.Mtime -= n.Mtime % int64(time.Second)
			tree[p] = n
		}
		return tree
	}
	first := seconds(c.root("site-a"))
	for _, h := range threeHosts[1:] {
		if d := diffTrees(first, seconds(c.root(h))); d != "" {
			t.Errorf("site-a and %s differ in whole seconds:\n%s", h, d)
		}
	}
}

// Nested empty folders, zero-byte files, names with spaces and non-ASCII
// letters, and file and folder modes travel as they are.
func TestNamesEmptiesAndModes(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	when := time.Date(2025, 12, 24, 18, 0, 0, 987654321, time.UTC)
	type want struct {
		dir     bool
		mode    fs.FileMode
		content string
	}
	wants := map[string]want{}
	file := func(host, rel, content string, mode fs.FileMode) {
		writeFile(t, c.root(host), rel, content, time.Time{})
		chmod(t, c.root(host), rel, mode)
		// chmod moves ctime, not mtime; set the time last anyway.
		if err := os.Chtimes(filepath.Join(c.root(host), filepath.FromSlash(rel)), when, when); err != nil {
			t.Fatal(err)
		}
		wants[rel] = want{mode: mode, content: content}
	}
	dir := func(host, rel string, mode fs.FileMode) {
		mkdirMode(t, c.root(host), rel, mode)
		wants[rel] = want{dir: true, mode: mode}
	}
	// site-a
	dir("site-a", "empty", 0o755)
	dir("site-a", "empty/nested", 0o750)
	dir("site-a", "empty/nested/deeper", 0o700)
	dir("site-a", "Präsentation Q3", 0o755)
	file("site-a", "Präsentation Q3/Ünïcödé name.txt", "Grüße aus Köln\n", 0o644)
	dir("site-a", "with space", 0o755)
	file("site-a", "with space/a file  with spaces .txt", "spaces\n", 0o644)
	file("site-a", "zero.bin", "", 0o644)
	dir("site-a", "bin", 0o755)
	file("site-a", "bin/run.sh", "#!/bin/sh\necho run\n", 0o755)
	dir("site-a", "private", 0o700)
	file("site-a", "private/secret.txt", "secret\n", 0o600)
	// site-b
	dir("site-b", "日本語", 0o755)
	file("site-b", "日本語/ファイル.txt", "こんにちは\n", 0o644)
	dir("site-b", "日本語/空のフォルダ", 0o755)
	dir("site-b", "zeros", 0o755)
	file("site-b", "zeros/empty one", "", 0o600)
	file("site-b", "zeros/empty two", "", 0o755)
	// site-c
	dir("site-c", "Ελληνικά", 0o755)
	file("site-c", "Ελληνικά/αρχείο ψ.txt", "γειά\n", 0o640)
	dir("site-c", "tools", 0o755)
	file("site-c", "tools/build tool", "#!/bin/sh\nexit 0\n", 0o755)
	file("site-c", "read-only.txt", "do not touch\n", 0o444)
	dir("site-c", "a", 0o755)
	dir("site-c", "a/b", 0o755)
	dir("site-c", "a/b/c", 0o755)
	dir("site-c", "a/b/c/d", 0o755)
	dir("site-c", "a/b/c/d/e", 0o755)

	for _, h := range threeHosts {
		c.startAgent(h)
	}
	c.createSession("names", threeHosts)
	c.mustCLI("session", "start", "names", "--wait")
	syncedClean(t, c.session("names"))
	tree := sameTrees(t, c.root("site-a"), c.root("site-b"), c.root("site-c"))
	if len(tree) != len(wants) {
		var extra []string
		for p := range tree {
			if _, ok := wants[p]; !ok {
				extra = append(extra, p)
			}
		}
		t.Errorf("synchronised tree has %d paths, want %d; unexpected: %q", len(tree), len(wants), extra)
	}
	for p, w := range wants {
		n, ok := tree[p]
		switch {
		case !ok:
			t.Errorf("%q missing after the sync", p)
		case n.Dir != w.dir:
			t.Errorf("%q: dir=%v, want %v", p, n.Dir, w.dir)
		case n.Mode != w.mode:
			t.Errorf("%q: mode %o, want %o", p, n.Mode, w.mode)
		case !w.dir && (n.Hash != shaHex(w.content) || n.Size != int64(len(w.content))):
			t.Errorf("%q: %s, want %d bytes %q", p, n, len(w.content), w.content)
		case !w.dir && n.Mtime != when.UnixNano():
			t.Errorf("%q: mtime %d, want %d", p, n.Mtime, when.UnixNano())
		}
	}
}

// Ten thousand small files spread over folders on one host reach the
// other two.
func TestTenThousandSmallFiles(t *testing.T) {
	c := newCluster(t)
	root := c.root("site-a")
	rng := rand.New(rand.NewPCG(1, 2))
	pad := strings.Repeat("0123456789abcdef", 256)
	const files = 10000
	for i := range files {
		rel := fmt.Sprintf("projects/p%02d/d%02d/file-%05d.txt", i%10, (i/10)%20, i)
		writeFile(t, root, rel, fmt.Sprintf("file %d\n%s", i, pad[:rng.IntN(len(pad))]), time.Time{})
	}
	for _, h := range threeHosts {
		c.startAgent(h)
	}
	c.createSession("many", threeHosts)
	start := time.Now()
	c.mustCLI("session", "start", "many", "--wait")
	t.Logf("10,000 files to two hosts in %s", time.Since(start).Round(time.Millisecond))
	s := c.session("many")
	syncedClean(t, s)
	tree := sameTrees(t, root, c.root("site-b"), c.root("site-c"))
	n := 0
	for _, e := range tree {
		if !e.Dir {
			n++
		}
	}
	if n != files {
		t.Errorf("%d files on every host, want %d", n, files)
	}
	if s.Status.Files.Done != 2*files {
		t.Errorf("files done %d, want %d (each file to two hosts)", s.Status.Files.Done, 2*files)
	}
}

// A file of 512 MiB reaches both other hosts intact, with its nanosecond
// modification time, and no agent's memory grows with it.
func TestLargeFile(t *testing.T) {
	c := newCluster(t)
	const size = 512<<20 + 12345 // not a whole number of chunks
	mtime := time.Date(2026, 1, 31, 23, 59, 59, 999999999, time.UTC)
	sum := writeLarge(t, c.root("site-b"), "media/big.bin", size, 42, mtime)
	procs := map[string]*proc{}
	for _, h := range threeHosts {
		procs[h] = c.startAgent(h)
	}
	c.createSession("large", threeHosts)
	start := time.Now()
	c.mustCLI("session", "start", "large", "--wait")
	t.Logf("512 MiB to two hosts in %s", time.Since(start).Round(time.Millisecond))
	s := c.session("large")
	syncedClean(t, s)
	for _, h := range []string{"site-a", "site-c"} {
		p := filepath.Join(c.root(h), "media", "big.bin")
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s: %v", h, err)
		}
		if fi.Size() != size || fi.ModTime().UnixNano() != mtime.UnixNano() {
			t.Errorf("%s: %d bytes, mtime %d; want %d bytes, mtime %d", h, fi.Size(), fi.ModTime().UnixNano(), size, mtime.UnixNano())
		}
		if got := hashFile(t, p); got != sum {
			t.Errorf("%s: sha256 %s, want %s", h, got, sum)
		}
	}
	// The bound for an agent, whatever the file sizes.
	for _, h := range threeHosts {
		switch rss := procs[h].peakRSS(); {
		case rss < 0:
			t.Logf("agent %s: peak RSS not measurable here", h)
		case rss > 150<<20:
			t.Errorf("agent %s peaked at %d MiB resident moving a 512 MiB file: it must stream", h, rss>>20)
		default:
			t.Logf("agent %s peak RSS %d MiB", h, rss>>20)
		}
	}
	if s.Status.Bytes.Done != 2*size || s.Status.Files.Done != 2 {
		t.Errorf("progress %d files, %d bytes; want 2 files, %d bytes", s.Status.Files.Done, s.Status.Bytes.Done, 2*size)
	}
	if left := tempFiles(t, c.dir); len(left) > 0 {
		t.Errorf("temp files left: %v", left)
	}
}

// A hub stopped and started again with the same --data resumes its session
// without transferring anything, and so does a stop and start of the
// session after that: no file is rewritten, renamed over or touched on any
// host.
func TestHubRestartThenSessionRestartTransfersNothing(t *testing.T) {
	c := newCluster(t)
	base := time.Date(2026, 2, 14, 8, 0, 0, 111111111, time.UTC)
	for i := range 300 {
		host := threeHosts[i%3]
		writeFile(t, c.root(host), fmt.Sprintf("shared/%s/f%03d.txt", host, i), fmt.Sprintf("file %d on %s\n", i, host), base.Add(time.Duration(i)*time.Second))
	}
	writeFile(t, c.root("site-a"), "conflict.txt", "older\n", base)
	writeFile(t, c.root("site-b"), "conflict.txt", "newer\n", base.Add(time.Minute))
	writeFile(t, c.root("site-c"), "conflict.txt", "older\n", base)
	writeFile(t, c.root("site-a"), "tools/run.sh", "#!/bin/sh\n", base)
	chmod(t, c.root("site-a"), "tools/run.sh", 0o755)
	mkdirMode(t, c.root("site-b"), "empty/folder", 0o700)
	writeFile(t, c.root("site-c"), "zero", "", base)
	writeLarge(t, c.root("site-c"), "blob.bin", 8<<20, 7, base)
	written := time.Now()
	for _, h := range threeHosts {
		c.startAgent(h)
	}
	c.createSession("restart", threeHosts)
	c.mustCLI("session", "start", "restart", "--wait")
	syncedClean(t, c.session("restart"))
	synced := sameTrees(t, c.root("site-a"), c.root("site-b"), c.root("site-c"))
	before := map[string]map[string]stamp{}
	for _, h := range threeHosts {
		before[h] = stamps(t, c.root(h))
	}

	// A file changed within 2 s of a scan is hashed but not cached (the
	// scan's racy window): let the originals age past it, so that the scan
	// of the resumed session caches them and the last start reads nothing.
	time.Sleep(time.Until(written.Add(2500 * time.Millisecond)))
	c.proc("hub").stop()
	for _, h := range threeHosts {
		if p := c.proc("agent-" + h); p.exited() {
			t.Fatalf("agent %s exited with the hub: %v", h, p.err)
		}
	}
	restarted := time.Now()
	c.startHub()
	for _, h := range threeHosts {
		c.waitAgent(h, true, c.proc("agent-"+h))
	}
	// The session was running when the hub stopped: the hub resumes it.
	s := c.waitRunning("restart", restarted, 60*time.Second)
	syncedClean(t, s)
	if s.Status.Files.Total != 0 || s.Status.Bytes.Total != 0 {
		t.Errorf("resumed after a hub restart: planned %d files, %d bytes; want nothing", s.Status.Files.Total, s.Status.Bytes.Total)
	}

	c.mustCLI("session", "stop", "restart")
	c.mustCLI("session", "start", "restart", "--wait")
	s = c.session("restart")
	syncedClean(t, s)
	if s.Status.Files.Total != 0 || s.Status.Bytes.Total != 0 {
		t.Errorf("session restart after a hub restart: planned %d files, %d bytes; want nothing", s.Status.Files.Total, s.Status.Bytes.Total)
	}
	for _, hs := range s.Status.Hosts {
		if hs.Hashed != 0 {
			t.Errorf("%s hashed %d files scanning its unchanged tree again; its scan cache should answer for all of them", hs.Host, hs.Hashed)
		}
	}
	if d := diffTrees(synced, sameTrees(t, c.root("site-a"), c.root("site-b"), c.root("site-c"))); d != "" {
		t.Errorf("trees changed across the restarts:\n%s", d)
	}
	for _, h := range threeHosts {
		after := stamps(t, c.root(h))
		var changed []string
		for p, st := range before[h] {
			if after[p] != st {
				changed = append(changed, fmt.Sprintf("%s: inode %d ctime %d -> inode %d ctime %d", p, st.Ino, st.Ctime, after[p].Ino, after[p].Ctime))
			}
		}
		for p := range after {
			if _, ok := before[h][p]; !ok {
				changed = append(changed, p+": new")
			}
		}
		slices.Sort(changed)
		if len(changed) > 0 {
			t.Errorf("%s: %d paths touched by a restart that should move nothing:\n%s", h, len(changed), strings.Join(changed[:min(len(changed), 20)], "\n"))
		}
	}
}

// A transfer interrupted in the two ways an operator meets: a session
// stopped mid-transfer stops transferring (when `session stop` returns no
// host holds a temp file, and none appears after); and an agent killed with
// SIGKILL while it receives a large file (and serves many small ones) leaves
// temp files behind, yet once it is started again the hub starts the
// session over by itself, the temp files are gone and every host holds the
// same tree.
func TestAgentKilledMidTransfer(t *testing.T) {
	c := newCluster(t)
	base := time.Date(2026, 3, 3, 3, 3, 3, 333333333, time.UTC)
	const size = 256 << 20
	sum := writeLarge(t, c.root("site-a"), "big/blob.bin", size, 99, base)
	for i := range 3000 {
		writeFile(t, c.root("site-c"), fmt.Sprintf("small/d%02d/f%04d.txt", i%30, i), fmt.Sprintf("small file %d\n", i), base.Add(time.Duration(i)))
	}
	writeFile(t, c.root("site-b"), "from-b.txt", "b\n", base)
	for _, h := range threeHosts {
		c.startAgent(h)
	}
	c.createSession("crash", threeHosts)
	bigDir := filepath.Join(c.root("site-c"), "big")
	receiving := func() {
		t.Helper()
		waitFor(t, 60*time.Second, "site-c to be receiving big/blob.bin", func() bool {
			m, _ := filepath.Glob(filepath.Join(bigDir, ".peerlink-tmp-*"))
			for _, p := range m {
				if fi, err := os.Stat(p); err == nil && fi.Size() >= 16<<20 {
					return true
				}
			}
			return false
		})
	}

	// Stopped mid-transfer: the agents' transfers end with the session.
	c.mustCLI("session", "start", "crash")
	receiving()
	c.mustCLI("session", "stop", "crash")
	for _, wait := range []time.Duration{0, time.Second} {
		time.Sleep(wait)
		for _, h := range threeHosts {
			if left := tempFiles(t, c.root(h)); len(left) > 0 {
				t.Errorf("%s: %d temp files (%s...) after `session stop` returned: transfers go on after the stop", h, len(left), left[0])
			}
			if h != "site-a" {
				if _, err := os.Stat(filepath.Join(c.root(h), "big", "blob.bin")); err == nil {
					t.Errorf("%s: big/blob.bin landed after `session stop` returned", h)
				}
			}
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// Killed mid-transfer: site-c, once its temp file of the large file
	// holds some data.
	c.mustCLI("session", "start", "crash")
	receiving()
	c.proc("agent-site-c").kill()
	left := tempFiles(t, c.root("site-c"))
	if len(left) == 0 {
		t.Fatal("site-c was killed mid-transfer but left no temp file: the test did not catch it in the act")
	}
	c.waitAgent("site-c", false, nil)
	if _, err := os.Stat(filepath.Join(bigDir, "blob.bin")); err == nil {
		t.Fatal("site-c holds big/blob.bin though it was killed while receiving it")
	}

	restarted := time.Now()
	c.startAgent("site-c")
	s := c.waitRunning("crash", restarted, 120*time.Second)
	syncedClean(t, s)
	for _, h := range threeHosts {
		if left := tempFiles(t, c.root(h)); len(left) > 0 {
			t.Errorf("%s: %d temp files left after the restart: %s...", h, len(left), left[0])
		}
	}
	tree := sameTrees(t, c.root("site-a"), c.root("site-b"), c.root("site-c"))
	if n := tree["big/blob.bin"]; n.Hash != sum || n.Mtime != base.UnixNano() {
		t.Errorf("big/blob.bin: %s, want sha %.12s mtime %d", n, sum, base.UnixNano())
	}
	if _, ok := tree["small/d29/f2999.txt"]; !ok {
		t.Error("small files missing after the restart")
	}
	if _, ok := tree["from-b.txt"]; !ok {
		t.Error("from-b.txt missing after the restart")
	}
}
