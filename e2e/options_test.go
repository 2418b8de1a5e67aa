//go:build linux

package e2e

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// The conflict resolution options of issue 4 end to end: each test puts a
// state on disk, runs the session, stops it, changes the trees as its case
// needs, starts it again and asserts the files on every host and the File
// Conflict List (`conflicts list --json`).

// optT0 is the base modification time of every test file here.
var optT0 = time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)

func tAt(d time.Duration) time.Time { return optT0.Add(d) }

// fileAt is one copy of a file: its content and modification time.
type fileAt struct {
	content string
	mtime   time.Time
}

func sha256Hex(s string) string { return fmt.Sprintf("%x", sha256.Sum256([]byte(s))) }

// optCluster starts a hub and an agent for each host.
func optCluster(t *testing.T, hosts ...string) *cluster {
	t.Helper()
	c := newCluster(t)
	for _, h := range hosts {
		c.startAgent(h)
	}
	return c
}

// put writes the same copy at rel on every named host.
func put(t *testing.T, c *cluster, rel string, f fileAt, hosts ...string) {
	t.Helper()
	for _, h := range hosts {
		writeFile(t, c.root(h), rel, f.content, f.mtime)
	}
}

func remove(t *testing.T, c *cluster, rel string, hosts ...string) {
	t.Helper()
	for _, h := range hosts {
		if err := os.RemoveAll(filepath.Join(c.root(h), filepath.FromSlash(rel))); err != nil {
			t.Fatal(err)
		}
	}
}

// startClean starts a session and waits for its initial synchronisation,
// which must end running without a failed file.
func startClean(t *testing.T, c *cluster, name string) api.Session {
	t.Helper()
	c.mustCLI("session", "start", name, "--wait")
	s := c.session(name)
	if s.Status.Phase != api.PhaseRunning || s.Status.ErrorCount != 0 {
		t.Fatalf("session %s: phase %s, %d errors %v; want running without errors", name, s.Status.Phase, s.Status.ErrorCount, s.Status.Errors)
	}
	return s
}

// offline stops the session, makes the changes of change while it is
// stopped, and starts it again.
func offline(t *testing.T, c *cluster, name string, change func()) api.Session {
	t.Helper()
	c.mustCLI("session", "stop", name)
	if s := c.session(name); s.Status.Phase != api.PhaseStopped {
		t.Fatalf("session %s is %s after stop", name, s.Status.Phase)
	}
	change()
	return startClean(t, c, name)
}

// conflictList reads the File Conflict List through the CLI, by path,
// checking it comes in path order.
func conflictList(t *testing.T, c *cluster, name string) map[string]api.Conflict {
	t.Helper()
	var list []api.Conflict
	if err := json.Unmarshal([]byte(c.mustCLI("conflicts", "list", name, "--json")), &list); err != nil {
		t.Fatalf("conflicts list --json: %v", err)
	}
	out := map[string]api.Conflict{}
	for i, cf := range list {
		if i > 0 && list[i-1].Path >= cf.Path {
			t.Errorf("conflicts list not in path order: %s before %s", list[i-1].Path, cf.Path)
		}
		out[cf.Path] = cf
	}
	return out
}

// listed fails the test unless the list holds exactly paths.
func listed(t *testing.T, list map[string]api.Conflict, paths ...string) {
	t.Helper()
	var got []string
	for p := range list {
		got = append(got, p)
	}
	slices.Sort(got)
	slices.Sort(paths)
	if !slices.Equal(got, paths) {
		t.Fatalf("File Conflict List holds %v, want %v", got, paths)
	}
}

// quarantined checks one entry of the list: its reason and every host's
// copy as recorded (a host missing from copies must have no copy).
func quarantined(t *testing.T, cf api.Conflict, reason string, hosts []string, copies map[string]fileAt) {
	t.Helper()
	if cf.Reason != reason {
		t.Errorf("%s: reason %q, want %q (detail %q)", cf.Path, cf.Reason, reason, cf.Detail)
	}
	if cf.Since.IsZero() || time.Since(cf.Since) > 10*time.Minute {
		t.Errorf("%s: since %s, want the time it was quarantined", cf.Path, cf.Since)
	}
	if len(cf.Copies) != len(hosts) {
		t.Errorf("%s: %d copies %+v, want one per host %v", cf.Path, len(cf.Copies), cf.Copies, hosts)
	}
	for _, h := range hosts {
		i := slices.IndexFunc(cf.Copies, func(cp api.Copy) bool { return cp.Host == h })
		if i < 0 {
			t.Errorf("%s: no copy listed for %s", cf.Path, h)
			continue
		}
		cp := cf.Copies[i]
		want, has := copies[h]
		switch {
		case !has:
			if cp.Exists {
				t.Errorf("%s on %s: listed as existing (%+v), want no copy", cf.Path, h, cp)
			}
		case !cp.Exists || cp.Kind != "file":
			t.Errorf("%s on %s: listed as %+v, want an existing file", cf.Path, h, cp)
		case cp.Size != int64(len(want.content)) || cp.Hash != sha256Hex(want.content) || !cp.Mtime.Equal(want.mtime):
			t.Errorf("%s on %s: listed size %d mtime %s hash %.12s, want size %d mtime %s hash %.12s",
				cf.Path, h, cp.Size, cp.Mtime, cp.Hash, len(want.content), want.mtime, sha256Hex(want.content))
		}
	}
}

// holds fails the test unless every named host holds want at rel, content
// and modification time.
func holds(t *testing.T, c *cluster, rel string, want fileAt, hosts ...string) {
	t.Helper()
	for _, h := range hosts {
		p := filepath.Join(c.root(h), filepath.FromSlash(rel))
		b, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("%s on %s: %v; want %q", rel, h, err, want.content)
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != want.content || !fi.ModTime().Equal(want.mtime) {
			t.Errorf("%s on %s: %q with mtime %s, want %q with mtime %s", rel, h, b, fi.ModTime().UTC(), want.content, want.mtime)
		}
	}
}

// lacks fails the test unless no named host has anything at rel.
func lacks(t *testing.T, c *cluster, rel string, hosts ...string) {
	t.Helper()
	for _, h := range hosts {
		if _, err := os.Lstat(filepath.Join(c.root(h), filepath.FromSlash(rel))); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s on %s: exists (%v), want it gone", rel, h, err)
		}
	}
}

// kept is a protected copy: ROOT/.peerlink/protected/STAMP/PATH.
type kept struct {
	file    string // full path on disk
	content string
	mtime   time.Time
}

// protectedCopies returns every protected copy on a root by PATH, checking
// that each STAMP names a UTC time of the last minutes.
func protectedCopies(t *testing.T, root string) map[string][]kept {
	t.Helper()
	base := filepath.Join(root, ".peerlink", "protected")
	out := map[string][]kept{}
	stampsDirs, err := os.ReadDir(base)
	if errors.Is(err, fs.ErrNotExist) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, sd := range stampsDirs {
		when, err := time.Parse("2006-01-02_150405", sd.Name())
		if err != nil || time.Since(when) > 10*time.Minute || time.Until(when) > time.Minute {
			t.Errorf("protected folder %s: want a stamp of the last minutes (2006-01-02_150405 in UTC)", sd.Name())
			continue
		}
		dir := filepath.Join(base, sd.Name())
		err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			rel = filepath.ToSlash(rel)
			out[rel] = append(out[rel], kept{file: p, content: string(b), mtime: fi.ModTime()})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// protects fails the test unless root holds exactly one protected copy of
// rel, with want's content and modification time, and returns it.
func protects(t *testing.T, c *cluster, host, rel string, want fileAt) kept {
	t.Helper()
	ks := protectedCopies(t, c.root(host))[rel]
	if len(ks) != 1 {
		t.Fatalf("%s: %d protected copies of %s %+v, want 1 holding %q", host, len(ks), rel, ks, want.content)
	}
	if ks[0].content != want.content || !ks[0].mtime.Equal(want.mtime) {
		t.Errorf("%s: protected copy of %s holds %q mtime %s, want %q mtime %s", host, rel, ks[0].content, ks[0].mtime.UTC(), want.content, want.mtime)
	}
	return ks[0]
}

// noProtected fails the test unless host has no protected copy at all.
func noProtected(t *testing.T, c *cluster, hosts ...string) {
	t.Helper()
	for _, h := range hosts {
		if ks := protectedCopies(t, c.root(h)); len(ks) > 0 {
			t.Errorf("%s: protected copies %v, want none (nothing was replaced or deleted there)", h, keys(ks))
		}
	}
}

// ownAreaOnly fails unless each host's .peerlink folder, if any, holds
// nothing but its own root marker (roles/agent/rootid.go): no protected
// area, and a marker no other host shares, so nothing in .peerlink was
// synchronised.
func ownAreaOnly(t *testing.T, c *cluster, why string, hosts ...string) {
	t.Helper()
	seen := map[string]string{}
	for _, h := range hosts {
		area := filepath.Join(c.root(h), ".peerlink")
		ents, err := os.ReadDir(area)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatalf("%s: read %s: %v", h, area, err)
		}
		for _, e := range ents {
			if e.Name() != "root-id" {
				t.Errorf("%s: .peerlink holds %s: %s", h, e.Name(), why)
			}
		}
		id, err := os.ReadFile(filepath.Join(area, "root-id"))
		if err != nil {
			continue
		}
		if other, ok := seen[string(id)]; ok {
			t.Errorf("%s and %s hold the same root marker: it was synchronised", other, h)
		}
		seen[string(id)] = h
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func inode(t *testing.T, c *cluster, host, rel string) uint64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(filepath.Join(c.root(host), filepath.FromSlash(rel)), &st); err != nil {
		t.Fatalf("%s on %s: %v", rel, host, err)
	}
	return st.Ino
}

// refused fails the test unless a CLI run failed and its stderr says each
// of want.
func refused(t *testing.T, what string, r result, want ...string) {
	t.Helper()
	if r.code == 0 {
		t.Errorf("%s: exit 0, want a failure\nstdout: %s\nstderr: %s", what, r.stdout, r.stderr)
		return
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("%s: exit %d, stderr does not say %q:\n%s", what, r.code, w, r.stderr)
		}
	}
}

// setImmutable makes path immutable (chattr +i) until the test ends,
// skipping the test where that cannot be done.
func setImmutable(t *testing.T, path string) {
	t.Helper()
	if _, err := exec.LookPath("chattr"); err != nil {
		t.Skip("chattr is not installed: cannot make the protected area unwritable for root")
	}
	if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
		t.Skipf("chattr +i %s failed (%v: %s): cannot make the protected area unwritable", path, err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", path).Run() })
	if f, err := os.CreateTemp(path, "probe"); err == nil {
		f.Close()
		os.Remove(f.Name())
		t.Skipf("chattr +i %s did not make it unwritable", path)
	}
}

func clearImmutable(t *testing.T, path string) {
	t.Helper()
	if out, err := exec.Command("chattr", "-i", path).CombinedOutput(); err != nil {
		t.Fatalf("chattr -i %s: %v: %s", path, err, out)
	}
}

var (
	hostsAB  = []string{"site-a", "site-b"}
	hostsABC = []string{"site-a", "site-b", "site-c"}
)

// --resolver manual: copies that differ become quarantines listing every
// host's copy; a quarantined path is left alone by a restart, even when
// edited; the list survives a hub restart; resolving one path with a
// winner propagates the winner's copy with protected copies of what it
// replaced, and --all resolves the rest.
func TestOptionManualResolution(t *testing.T) {
	t.Parallel()
	c := optCluster(t, hostsABC...)
	reportA := fileAt{"report from a\n", tAt(0)}
	reportB := fileAt{"report from b, the longest\n", tAt(time.Hour + 5)}
	reportC := fileAt{"report from c\n", tAt(2 * time.Hour)}
	planA := fileAt{"plan a\n", tAt(5 * time.Second)}
	planB := fileAt{"plan b!\n", tAt(6 * time.Second)}
	put(t, c, "docs/report.txt", reportA, "site-a")
	put(t, c, "docs/report.txt", reportB, "site-b")
	put(t, c, "docs/report.txt", reportC, "site-c")
	put(t, c, "plan.txt", planA, "site-a")
	put(t, c, "plan.txt", planB, "site-b")
	same := fileAt{"same everywhere\n", tAt(time.Minute)}
	put(t, c, "same.txt", same, hostsABC...)
	onlyA := fileAt{"only on a\n", tAt(0)}
	put(t, c, "only-a.txt", onlyA, "site-a")
	// A file on site-a, a folder on site-b: quarantined whatever the resolver.
	mixedA, innerB := fileAt{"mixed is a file on a\n", tAt(0)}, fileAt{"inside the folder on b\n", tAt(0)}
	put(t, c, "mixed", mixedA, "site-a")
	put(t, c, "mixed/inner.txt", innerB, "site-b")
	c.createSession("m", hostsABC, "--resolver", "manual")

	s := startClean(t, c, "m")
	if s.Status.Quarantined != 3 {
		t.Errorf("status says %d quarantined, want 3", s.Status.Quarantined)
	}
	checkList := func() {
		t.Helper()
		list := conflictList(t, c, "m")
		listed(t, list, "docs/report.txt", "mixed", "plan.txt")
		quarantined(t, list["docs/report.txt"], "manual-resolution", hostsABC,
			map[string]fileAt{"site-a": reportA, "site-b": reportB, "site-c": reportC})
		quarantined(t, list["plan.txt"], "manual-resolution", hostsABC,
			map[string]fileAt{"site-a": planA, "site-b": planB})
		mixed := list["mixed"]
		if mixed.Reason != "file-folder-mismatch" || len(mixed.Copies) != 3 {
			t.Errorf("mixed: %+v, want a file-folder-mismatch with 3 copies", mixed)
		}
		for _, cp := range mixed.Copies {
			if want := map[string]string{"site-a": "file", "site-b": "dir"}[cp.Host]; cp.Kind != want || cp.Exists != (want != "") {
				t.Errorf("mixed on %s listed as %+v, want kind %q", cp.Host, cp, want)
			}
		}
	}
	checkList()
	text := c.mustCLI("conflicts", "list", "m")
	for _, w := range []string{"docs/report.txt", "manual-resolution", "site-c", sha256Hex(reportC.content)[:12], "no copy"} {
		if !strings.Contains(text, w) {
			t.Errorf("conflicts list does not show %q:\n%s", w, text)
		}
	}
	holds(t, c, "docs/report.txt", reportA, "site-a")
	holds(t, c, "docs/report.txt", reportB, "site-b")
	holds(t, c, "docs/report.txt", reportC, "site-c")
	lacks(t, c, "plan.txt", "site-c")
	lacks(t, c, "mixed", "site-c")
	holds(t, c, "mixed", mixedA, "site-a")
	holds(t, c, "mixed/inner.txt", innerB, "site-b")
	holds(t, c, "same.txt", same, hostsABC...)
	holds(t, c, "only-a.txt", onlyA, hostsABC...)

	// An edit of a quarantined file while stopped, then a hub restart: the
	// list is still there, and the restart leaves the path alone.
	c.mustCLI("session", "stop", "m")
	reportC2 := fileAt{"report from c, edited while stopped\n", tAt(3 * time.Hour)}
	put(t, c, "docs/report.txt", reportC2, "site-c")
	c.proc("hub").stop()
	c.startHub()
	for _, h := range hostsABC {
		c.waitAgent(h, true, c.proc("agent-"+h))
	}
	checkList()
	s = startClean(t, c, "m")
	if s.Status.Quarantined != 3 {
		t.Errorf("after the restarts, status says %d quarantined, want 3", s.Status.Quarantined)
	}
	checkList()
	holds(t, c, "docs/report.txt", reportA, "site-a")
	holds(t, c, "docs/report.txt", reportB, "site-b")
	holds(t, c, "docs/report.txt", reportC2, "site-c")
	lacks(t, c, "plan.txt", "site-c")
	noProtected(t, c, hostsABC...)

	out := c.mustCLI("conflicts", "resolve", "m", "docs/report.txt", "--winner", "site-b")
	if !strings.Contains(out, "resolved docs/report.txt: the copy on site-b won") {
		t.Errorf("resolve printed %q", out)
	}
	holds(t, c, "docs/report.txt", reportB, hostsABC...)
	listed(t, conflictList(t, c, "m"), "mixed", "plan.txt")
	protects(t, c, "site-a", "docs/report.txt", reportA)
	protects(t, c, "site-c", "docs/report.txt", reportC2)
	noProtected(t, c, "site-b")
	if q := c.session("m").Status.Quarantined; q != 2 {
		t.Errorf("after one resolution, status says %d quarantined, want 2", q)
	}

	out = c.mustCLI("conflicts", "resolve", "m", "--all", "--winner", "site-a")
	for _, p := range []string{"mixed", "plan.txt"} {
		if !strings.Contains(out, "resolved "+p+": the copy on site-a won") {
			t.Errorf("resolve --all printed %q, want %s resolved", out, p)
		}
	}
	holds(t, c, "plan.txt", planA, hostsABC...)
	holds(t, c, "mixed", mixedA, hostsABC...)
	listed(t, conflictList(t, c, "m"))
	protects(t, c, "site-b", "plan.txt", planB)
	protects(t, c, "site-b", "mixed/inner.txt", innerB)
	if ks := protectedCopies(t, c.root("site-c"))["plan.txt"]; len(ks) != 0 {
		t.Errorf("site-c had no plan.txt, yet has protected copies of it: %+v", ks)
	}
	if out := c.mustCLI("conflicts", "list", "m"); !strings.Contains(out, "no conflicts") {
		t.Errorf("conflicts list of an empty list printed %q", out)
	}

	// The resolutions were recorded as synchronised: a restart moves nothing.
	s = offline(t, c, "m", func() {})
	if s.Status.Files.Total != 0 || s.Status.Quarantined != 0 {
		t.Errorf("restart after resolving: %d transfers planned, %d quarantined; want none", s.Status.Files.Total, s.Status.Quarantined)
	}
	sameTrees(t, c.root("site-a"), c.root("site-b"), c.root("site-c"))
	holds(t, c, "docs/report.txt", reportB, hostsABC...)
	listed(t, conflictList(t, c, "m"))
}

// Bad input to resolution and to the options: a winner outside the
// session, a path not in the list, a winner whose copy is gone, a delete
// master outside the session, options changed while running. Each exits
// non-zero with a message and changes no file.
func TestOptionBadInput(t *testing.T) {
	t.Parallel()
	c := optCluster(t, hostsAB...)
	xA, xB := fileAt{"x from a\n", tAt(0)}, fileAt{"x from b\n", tAt(time.Hour)}
	put(t, c, "x.txt", xA, "site-a")
	put(t, c, "x.txt", xB, "site-b")

	refused(t, "create --delete-master outside the session",
		c.cli("session", "create", "bad", "--host", "site-a="+c.root("site-a"), "--host", "site-b="+c.root("site-b"),
			"--offline-delete-detection", "--delete-master", "site-z"),
		"--delete-master", "site-z is not a host of session bad")
	if r := c.cli("session", "status", "bad"); r.code == 0 {
		t.Errorf("the refused session was created anyway:\n%s", r.stdout)
	}

	c.createSession("s", hostsAB, "--resolver", "manual")
	startClean(t, c, "s")
	listed(t, conflictList(t, c, "s"), "x.txt")
	before := map[string]map[string]node{}
	for _, h := range hostsAB {
		before[h] = snapshot(t, c.root(h))
	}
	same := func(what string) {
		t.Helper()
		for _, h := range hostsAB {
			if d := diffTrees(before[h], snapshot(t, c.root(h))); d != "" {
				t.Errorf("after %s, %s changed:\n%s", what, h, d)
			}
		}
		listed(t, conflictList(t, c, "s"), "x.txt")
		noProtected(t, c, hostsAB...)
	}

	refused(t, "resolve --winner outside the session", c.cli("conflicts", "resolve", "s", "x.txt", "--winner", "site-z"),
		"site-z is not a host of session s", "site-a, site-b")
	same("a winner outside the session")
	refused(t, "resolve a path not in the list", c.cli("conflicts", "resolve", "s", "nope.txt", "--winner", "site-a"),
		"nope.txt is not in the File Conflict List of session s")
	same("a path not in the list")
	refused(t, "resolve without a winner", c.cli("conflicts", "resolve", "s", "x.txt"), "winner")
	same("no winner")
	refused(t, "session set while running", c.cli("session", "set", "s", "--truncate-ms"),
		"session s is running", "stop it")
	if s := c.session("s"); s.Options.TruncateMs || s.Status.Phase != api.PhaseRunning {
		t.Errorf("refused set: truncate-ms %v, phase %s; want unchanged and running", s.Options.TruncateMs, s.Status.Phase)
	}

	remove(t, c, "x.txt", "site-b")
	before["site-b"] = snapshot(t, c.root("site-b"))
	refused(t, "resolve with a winner whose copy is gone", c.cli("conflicts", "resolve", "s", "x.txt", "--winner", "site-b"),
		"x.txt", "site-b", "no longer exists")
	same("a winner whose copy is gone")
	holds(t, c, "x.txt", xA, "site-a")

	c.mustCLI("session", "stop", "s")
	refused(t, "resolve while stopped", c.cli("conflicts", "resolve", "s", "x.txt", "--winner", "site-a"),
		"session s is not running", "session start s")
	same("a resolve while stopped")
	refused(t, "set --delete-master outside the session", c.cli("session", "set", "s", "--offline-delete-detection", "--delete-master", "site-z"),
		"--delete-master", "site-z is not a host of session s")
	if s := c.session("s"); s.Options.DeleteMaster != "" || s.Options.OfflineDeleteDetection {
		t.Errorf("refused set changed the options: %+v", s.Options)
	}
	c.mustCLI("session", "set", "s", "--offline-delete-detection", "--delete-master", "site-a")
	if s := c.session("s"); s.Options.DeleteMaster != "site-a" || !s.Options.OfflineDeleteDetection || s.Options.Resolver != "manual" {
		t.Errorf("session set on the stopped session: options %+v; want delete master site-a, the rest kept", s.Options)
	}
}

// --quarantine-offline-conflicts: a file changed on two hosts while the
// session was stopped is quarantined even under last-modified, which would
// otherwise pick the newer, and so is (with offline delete detection) a
// file deleted on one host and edited on another; a change on one host, or
// the same change on two, is no conflict. Turned off with session set, the
// newer wins again.
func TestOptionQuarantineOfflineConflicts(t *testing.T) {
	t.Parallel()
	c := optCluster(t, hostsABC...)
	v1 := fileAt{"version 1\n", tAt(0)}
	for _, p := range []string{"both.txt", "one.txt", "alike.txt", "later.txt", "del-edit.txt"} {
		put(t, c, p, v1, "site-a")
	}
	c.createSession("q", hostsABC, "--quarantine-offline-conflicts", "--offline-delete-detection")
	startClean(t, c, "q")
	holds(t, c, "both.txt", v1, hostsABC...)

	bothA := fileAt{"both: edited on a\n", tAt(time.Hour)}
	bothB := fileAt{"both: edited on b, newest\n", tAt(2 * time.Hour)}
	oneA := fileAt{"one: edited on a only\n", tAt(time.Hour)}
	alike := fileAt{"alike: the same edit on a and c\n", tAt(time.Hour)}
	delEditC := fileAt{"del-edit: edited on c, deleted on b\n", tAt(time.Hour)}
	s := offline(t, c, "q", func() {
		remove(t, c, "del-edit.txt", "site-b")
		put(t, c, "del-edit.txt", delEditC, "site-c")
		put(t, c, "both.txt", bothA, "site-a")
		put(t, c, "both.txt", bothB, "site-b")
		put(t, c, "one.txt", oneA, "site-a")
		put(t, c, "alike.txt", alike, "site-a", "site-c")
	})
	if s.Status.Quarantined != 2 {
		t.Errorf("status says %d quarantined, want 2", s.Status.Quarantined)
	}
	list := conflictList(t, c, "q")
	listed(t, list, "both.txt", "del-edit.txt")
	quarantined(t, list["del-edit.txt"], "delete-edit-conflict", hostsABC,
		map[string]fileAt{"site-a": v1, "site-c": delEditC})
	holds(t, c, "del-edit.txt", v1, "site-a")
	holds(t, c, "del-edit.txt", delEditC, "site-c")
	lacks(t, c, "del-edit.txt", "site-b")
	quarantined(t, list["both.txt"], "offline-version-conflict", hostsABC,
		map[string]fileAt{"site-a": bothA, "site-b": bothB, "site-c": v1})
	if d := list["both.txt"].Detail; !strings.Contains(d, "site-a") || !strings.Contains(d, "site-b") || strings.Contains(d, "site-c") {
		t.Errorf("detail %q should name site-a and site-b, which changed it", d)
	}
	holds(t, c, "both.txt", bothA, "site-a")
	holds(t, c, "both.txt", bothB, "site-b")
	holds(t, c, "both.txt", v1, "site-c")
	holds(t, c, "one.txt", oneA, hostsABC...)
	holds(t, c, "alike.txt", alike, hostsABC...)

	c.mustCLI("session", "stop", "q")
	c.mustCLI("session", "set", "q", "--quarantine-offline-conflicts=false")
	laterA := fileAt{"later: edited on a\n", tAt(time.Hour)}
	laterC := fileAt{"later: edited on c, newest\n", tAt(2 * time.Hour)}
	put(t, c, "later.txt", laterA, "site-a")
	put(t, c, "later.txt", laterC, "site-c")
	startClean(t, c, "q")
	holds(t, c, "later.txt", laterC, hostsABC...)
	listed(t, conflictList(t, c, "q"), "both.txt", "del-edit.txt")
}

// --delete-quarantined: a quarantined file deleted on every host leaves the
// list at the next start; without the option it stays, and a quarantined
// file deleted on one host only stays listed and is not brought back.
func TestOptionDeleteQuarantined(t *testing.T) {
	t.Parallel()
	c := optCluster(t, hostsAB...)
	for _, p := range []string{"gone.txt", "half.txt"} {
		put(t, c, p, fileAt{p + " from a\n", tAt(0)}, "site-a")
		put(t, c, p, fileAt{p + " from b\n", tAt(time.Hour)}, "site-b")
	}
	c.createSession("d", hostsAB, "--resolver", "manual")
	startClean(t, c, "d")
	listed(t, conflictList(t, c, "d"), "gone.txt", "half.txt")

	offline(t, c, "d", func() {
		remove(t, c, "gone.txt", hostsAB...)
		remove(t, c, "half.txt", "site-a")
	})
	listed(t, conflictList(t, c, "d"), "gone.txt", "half.txt")

	c.mustCLI("session", "stop", "d")
	c.mustCLI("session", "set", "d", "--delete-quarantined")
	s := startClean(t, c, "d")
	list := conflictList(t, c, "d")
	listed(t, list, "half.txt")
	if s.Status.Quarantined != 1 {
		t.Errorf("status says %d quarantined, want 1", s.Status.Quarantined)
	}
	lacks(t, c, "gone.txt", hostsAB...)
	lacks(t, c, "half.txt", "site-a")
	holds(t, c, "half.txt", fileAt{"half.txt from b\n", tAt(time.Hour)}, "site-b")
}

// --offline-rename-detection: a folder moved on one host while stopped is
// moved on the others (the same inodes, nothing transferred, nothing kept
// as protected) and the old one is not brought back. Without the option
// the moved folder is copied anew and the old one resurrected.
func TestOptionOfflineRenameDetection(t *testing.T) {
	t.Parallel()
	c := optCluster(t, hostsABC...)
	a := fileAt{"deep file\n", tAt(0)}
	b := fileAt{"shallow file\n", tAt(time.Minute)}
	keep := fileAt{"archive index\n", tAt(0)}
	put(t, c, "proj/sub/a.txt", a, "site-a")
	put(t, c, "proj/b.txt", b, "site-a")
	put(t, c, "archive/index.txt", keep, "site-a")
	c.createSession("r", hostsABC, "--offline-rename-detection")
	startClean(t, c, "r")
	ino := map[string]uint64{}
	for _, h := range []string{"site-b", "site-c"} {
		ino[h] = inode(t, c, h, "proj/sub/a.txt")
	}

	s := offline(t, c, "r", func() {
		if err := os.Rename(filepath.Join(c.root("site-a"), "proj"), filepath.Join(c.root("site-a"), "archive", "proj-2025")); err != nil {
			t.Fatal(err)
		}
	})
	holds(t, c, "archive/proj-2025/sub/a.txt", a, hostsABC...)
	holds(t, c, "archive/proj-2025/b.txt", b, hostsABC...)
	lacks(t, c, "proj", hostsABC...)
	for _, h := range []string{"site-b", "site-c"} {
		if got := inode(t, c, h, "archive/proj-2025/sub/a.txt"); got != ino[h] {
			t.Errorf("%s: the moved file has inode %d, was %d: copied anew, not renamed", h, got, ino[h])
		}
	}
	if s.Status.Files.Total != 0 {
		t.Errorf("a rename planned %d transfers, want 0", s.Status.Files.Total)
	}
	noProtected(t, c, hostsABC...)
	sameTrees(t, c.root("site-a"), c.root("site-b"), c.root("site-c"))
	listed(t, conflictList(t, c, "r"))

	// The index followed the rename: another restart moves nothing.
	if s := offline(t, c, "r", func() {}); s.Status.Files.Total != 0 {
		t.Errorf("restart after the rename planned %d transfers, want 0", s.Status.Files.Total)
	}
	lacks(t, c, "proj", hostsABC...)

	// Control: without the option the same move is a new folder plus a
	// deletion, which (without delete detection) is undone.
	c.mustCLI("session", "stop", "r")
	c.mustCLI("session", "set", "r", "--offline-rename-detection=false")
	if err := os.Rename(filepath.Join(c.root("site-a"), "archive", "proj-2025"), filepath.Join(c.root("site-a"), "proj-3")); err != nil {
		t.Fatal(err)
	}
	s = startClean(t, c, "r")
	holds(t, c, "proj-3/sub/a.txt", a, hostsABC...)
	holds(t, c, "archive/proj-2025/sub/a.txt", a, hostsABC...)
	if got := inode(t, c, "site-b", "proj-3/sub/a.txt"); got == ino["site-b"] {
		t.Errorf("without rename detection site-b's proj-3 is its old folder renamed")
	}
	if s.Status.Files.Total == 0 {
		t.Errorf("without rename detection nothing was transferred")
	}
}

// --offline-delete-detection: a file and a folder deleted on one host while
// stopped are deleted on every host, each other host keeping a protected
// copy. Without the option a deleted file is brought back.
func TestOptionOfflineDeleteDetection(t *testing.T) {
	t.Parallel()
	c := optCluster(t, hostsABC...)
	gone := fileAt{"deleted on b\n", tAt(0)}
	deep := fileAt{"deep in a deleted folder\n", tAt(time.Minute)}
	back := fileAt{"brought back\n", tAt(2 * time.Minute)}
	put(t, c, "gone.txt", gone, "site-a")
	put(t, c, "old/x/deep.txt", deep, "site-a")
	put(t, c, "back.txt", back, "site-c")
	c.createSession("del", hostsABC, "--offline-delete-detection")
	startClean(t, c, "del")
	holds(t, c, "old/x/deep.txt", deep, hostsABC...)

	offline(t, c, "del", func() { remove(t, c, "gone.txt", "site-b"); remove(t, c, "old", "site-b") })
	lacks(t, c, "gone.txt", hostsABC...)
	lacks(t, c, "old", hostsABC...)
	for _, h := range []string{"site-a", "site-c"} {
		protects(t, c, h, "gone.txt", gone)
		protects(t, c, h, "old/x/deep.txt", deep)
	}
	noProtected(t, c, "site-b")
	listed(t, conflictList(t, c, "del"))

	c.mustCLI("session", "stop", "del")
	c.mustCLI("session", "set", "del", "--offline-delete-detection=false")
	remove(t, c, "back.txt", "site-b")
	startClean(t, c, "del")
	holds(t, c, "back.txt", back, hostsABC...)
}

// --delete-master: only deletions made on the master while stopped
// propagate, even over an edit made elsewhere; deletions on other hosts are
// brought back, and a file new on another host (never on the master) is
// not taken for a deletion.
func TestOptionDeleteMaster(t *testing.T) {
	t.Parallel()
	c := optCluster(t, hostsABC...)
	v := func(p string) fileAt { return fileAt{p + " as synchronised\n", tAt(0)} }
	for _, p := range []string{"master.txt", "edited.txt", "other.txt", "two.txt"} {
		put(t, c, p, v(p), "site-a")
	}
	c.createSession("dm", hostsABC, "--offline-delete-detection", "--delete-master", "site-b")
	startClean(t, c, "dm")

	editedC := fileAt{"edited on c after the master deleted it\n", tAt(5 * time.Hour)}
	fresh := fileAt{"new on c\n", tAt(time.Hour)}
	offline(t, c, "dm", func() {
		remove(t, c, "master.txt", "site-b")
		remove(t, c, "edited.txt", "site-b")
		put(t, c, "edited.txt", editedC, "site-c")
		remove(t, c, "other.txt", "site-a")
		remove(t, c, "two.txt", "site-a", "site-c")
		put(t, c, "fresh.txt", fresh, "site-c")
	})
	lacks(t, c, "master.txt", hostsABC...)
	lacks(t, c, "edited.txt", hostsABC...)
	protects(t, c, "site-c", "edited.txt", editedC)
	protects(t, c, "site-a", "master.txt", v("master.txt"))
	holds(t, c, "other.txt", v("other.txt"), hostsABC...)
	holds(t, c, "two.txt", v("two.txt"), hostsABC...)
	holds(t, c, "fresh.txt", fresh, hostsABC...)
	noProtected(t, c, "site-b")
	listed(t, conflictList(t, c, "dm"))
}

// Target protection (on by default): a copy replaced or deleted on a target
// is kept under ROOT/.peerlink/protected/STAMP/PATH, with its content and
// time, never on the host the change came from; copying it back recovers
// it, and the next start propagates the recovered file.
func TestOptionTargetProtection(t *testing.T) {
	t.Parallel()
	c := optCluster(t, hostsAB...)
	t1, u1 := fileAt{"t as synchronised\n", tAt(0)}, fileAt{"u as synchronised\n", tAt(0)}
	put(t, c, "dir/t.txt", t1, "site-a")
	put(t, c, "u.txt", u1, "site-a")
	c.createSession("p", hostsAB, "--offline-delete-detection")
	startClean(t, c, "p")
	noProtected(t, c, hostsAB...) // fetched into empty places: nothing replaced

	t2 := fileAt{"t edited on a\n", tAt(time.Hour)}
	offline(t, c, "p", func() {
		put(t, c, "dir/t.txt", t2, "site-a")
		remove(t, c, "u.txt", "site-a")
	})
	holds(t, c, "dir/t.txt", t2, hostsAB...)
	lacks(t, c, "u.txt", hostsAB...)
	protects(t, c, "site-b", "dir/t.txt", t1)
	ku := protects(t, c, "site-b", "u.txt", u1)
	noProtected(t, c, "site-a")
	// The protected area is never synchronised.
	ownAreaOnly(t, c, "site-b's protected area was synchronised", "site-a")

	// Recover u.txt on site-b by copying it back, as the README says.
	offline(t, c, "p", func() {
		out, err := exec.Command("cp", "-p", ku.file, filepath.Join(c.root("site-b"), "u.txt")).CombinedOutput()
		if err != nil {
			t.Fatalf("cp -p: %v: %s", err, out)
		}
	})
	holds(t, c, "u.txt", u1, hostsAB...)
	sameTrees(t, c.root("site-a"), c.root("site-b"))
}

// --target-protection=false: replaced and deleted copies are simply gone
// and no protected area is made (.peerlink holds only the root's marker). Offline delete detection acts only with
// target protection (seed: "If this option is enabled and target protection
// is enabled"), so without it a deleted file is brought back.
func TestOptionTargetProtectionOff(t *testing.T) {
	t.Parallel()
	c := optCluster(t, hostsAB...)
	t1, u1 := fileAt{"t as synchronised\n", tAt(0)}, fileAt{"u as synchronised\n", tAt(0)}
	put(t, c, "t.txt", t1, "site-a")
	put(t, c, "u.txt", u1, "site-a")
	c.createSession("off", hostsAB, "--target-protection=false", "--offline-delete-detection")
	if s := c.session("off"); s.TargetProtection == nil || *s.TargetProtection {
		t.Fatalf("session created with --target-protection=false has protection %v", s.TargetProtection)
	}
	startClean(t, c, "off")

	t2 := fileAt{"t edited on b\n", tAt(time.Hour)}
	s := offline(t, c, "off", func() {
		put(t, c, "t.txt", t2, "site-b")
		remove(t, c, "u.txt", "site-b")
	})
	holds(t, c, "t.txt", t2, hostsAB...)
	holds(t, c, "u.txt", u1, hostsAB...)
	ownAreaOnly(t, c, "made with target protection off", hostsAB...)
	if !slices.ContainsFunc(s.Status.Warnings, func(w string) bool { return strings.Contains(w, "target protection") }) {
		t.Errorf("no warning that offline delete detection needs target protection: %q", s.Status.Warnings)
	}
}

// --protect-days: at attach, stamp folders older than the retention are
// removed from ROOT/.peerlink/protected; younger ones and anything that is
// not a stamp stay, and none of it is synchronised.
func TestOptionProtectRetention(t *testing.T) {
	t.Parallel()
	c := optCluster(t, hostsAB...)
	stamp := func(d time.Duration) string { return time.Now().UTC().Add(-d).Format("2006-01-02_150405") }
	prot := filepath.Join(c.root("site-b"), ".peerlink", "protected")
	old, expired, young := "2020-01-01_000000", stamp(10*24*time.Hour), stamp(3*24*time.Hour)
	for _, dir := range []string{old, expired, young, "notes"} {
		writeFile(t, prot, dir+"/f.txt", "kept in "+dir+"\n", time.Time{})
	}
	put(t, c, "a.txt", fileAt{"a\n", tAt(0)}, "site-a")
	c.createSession("ret", hostsAB, "--protect-days", "7")
	if s := c.session("ret"); s.ProtectDays != 7 {
		t.Fatalf("protect days %d, want 7", s.ProtectDays)
	}
	startClean(t, c, "ret")
	gone := func(dir string) bool {
		_, err := os.Lstat(filepath.Join(prot, dir))
		return errors.Is(err, fs.ErrNotExist)
	}
	waitFor(t, 10*time.Second, "the expired protected folders to be removed", func() bool { return gone(old) && gone(expired) })
	for _, dir := range []string{young, "notes"} {
		if gone(dir) {
			t.Errorf("%s was removed, want it kept (younger than 7 days, or not a stamp)", dir)
		}
	}
	ownAreaOnly(t, c, "site-b's protected area was synchronised", "site-a")
	sameTrees(t, c.root("site-a"), c.root("site-b"))
}

// A protected area that cannot be written (immutable ROOT/.peerlink/protected
// on one host, immutable ROOT/.peerlink on another): the replacement and
// the deletion are refused there, the copies stay as they were, the session
// status says why, and start --wait exits 1. Once writable, the next start
// finishes the job. A resolution refused the same way fails and leaves
// the path listed.
func TestOptionProtectedAreaUnwritable(t *testing.T) {
	t.Parallel()
	c := optCluster(t, hostsABC...)
	t1, u1 := fileAt{"t as synchronised\n", tAt(0)}, fileAt{"u as synchronised\n", tAt(0)}
	put(t, c, "t.txt", t1, "site-a")
	put(t, c, "u.txt", u1, "site-a")
	c.createSession("w", hostsABC, "--offline-delete-detection")
	startClean(t, c, "w")

	c.mustCLI("session", "stop", "w")
	protB := filepath.Join(c.root("site-b"), ".peerlink", "protected")
	dotC := filepath.Join(c.root("site-c"), ".peerlink")
	for _, d := range []string{protB, dotC} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	setImmutable(t, protB)
	setImmutable(t, dotC)
	t2 := fileAt{"t edited on a\n", tAt(time.Hour)}
	put(t, c, "t.txt", t2, "site-a")
	remove(t, c, "u.txt", "site-a")

	r := c.cli("session", "start", "w", "--wait")
	refused(t, "start --wait with an unwritable protected area", r, "target protection could not keep a copy", "could not be synchronised")
	holds(t, c, "t.txt", t1, "site-b", "site-c")
	holds(t, c, "u.txt", u1, "site-b", "site-c")
	holds(t, c, "t.txt", t2, "site-a")
	s := c.session("w")
	if s.Status.Phase != api.PhaseRunning || s.Status.ErrorCount != 4 {
		t.Errorf("phase %s with %d errors, want running with 4 (t.txt and u.txt on site-b and site-c)", s.Status.Phase, s.Status.ErrorCount)
	}
	for _, h := range []string{"site-b", "site-c"} {
		for _, p := range []string{"t.txt", "u.txt"} {
			if !slices.ContainsFunc(s.Status.Errors, func(e wire.Error) bool {
				return e.Host == h && e.Path == p && strings.Contains(e.Error(), "target protection could not keep a copy")
			}) {
				t.Errorf("session status errors %v do not say that %s on %s was refused for target protection", s.Status.Errors, p, h)
			}
		}
	}
	text := c.mustCLI("session", "status", "w")
	if !strings.Contains(text, "target protection could not keep a copy") {
		t.Errorf("session status does not show the failure:\n%s", text)
	}

	// Writable again: the next start replaces and deletes, keeping copies.
	clearImmutable(t, protB)
	clearImmutable(t, dotC)
	offline(t, c, "w", func() {})
	holds(t, c, "t.txt", t2, hostsABC...)
	lacks(t, c, "u.txt", hostsABC...)
	for _, h := range []string{"site-b", "site-c"} {
		protects(t, c, h, "t.txt", t1)
		protects(t, c, h, "u.txt", u1)
	}

	// A resolution refused by an unwritable protected area.
	c.mustCLI("session", "stop", "w")
	c.mustCLI("session", "set", "w", "--resolver", "manual")
	vA, vB := fileAt{"v from a\n", tAt(0)}, fileAt{"v from b\n", tAt(time.Hour)}
	put(t, c, "v.txt", vA, "site-a")
	put(t, c, "v.txt", vB, "site-b")
	startClean(t, c, "w")
	listed(t, conflictList(t, c, "w"), "v.txt")
	// Emptied first: a stamp folder of this very second would stay writable.
	if err := os.RemoveAll(protB); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(protB, 0o755); err != nil {
		t.Fatal(err)
	}
	setImmutable(t, protB)
	refused(t, "resolve with an unwritable protected area", c.cli("conflicts", "resolve", "w", "v.txt", "--winner", "site-a"),
		"v.txt", "site-b", "target protection could not keep a copy")
	holds(t, c, "v.txt", vB, "site-b")
	listed(t, conflictList(t, c, "w"), "v.txt")
	clearImmutable(t, protB)
	c.mustCLI("conflicts", "resolve", "w", "v.txt", "--winner", "site-a")
	holds(t, c, "v.txt", vA, hostsABC...)
	protects(t, c, "site-b", "v.txt", vB)
	listed(t, conflictList(t, c, "w"))
}
