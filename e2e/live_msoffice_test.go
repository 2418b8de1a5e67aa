//go:build linux

package e2e

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

// wordOwnerFile is what Microsoft Word writes as the owner file "~$NAME"
// of a document it opens (LibreOffice's reading of Office 2016,
// svl/source/misc/msodocumentlockfile.cxx): 162 bytes; the user name's
// length, the name in the 8-bit code page, zeros up to offset 54, the
// length again as a 16-bit little-endian word, the name in UTF-16LE, zeros.
func wordOwnerFile(user string) []byte {
	b := make([]byte, 162)
	b[0] = byte(len(user))
	copy(b[1:], user)
	b[54] = byte(len(user))
	for i, u := range utf16.Encode([]rune(user)) {
		b[56+2*i], b[57+2*i] = byte(u), byte(u>>8)
	}
	return b
}

// ownerFileUser reads the UTF-16 user name of a Word owner file, or ""
// when b is not one.
func ownerFileUser(b []byte) string {
	if len(b) != 162 || b[0] == 0 || b[54] == 0 || int(b[54]) > 52 {
		return ""
	}
	u := make([]uint16, b[54])
	for i := range u {
		u[i] = uint16(b[56+2*i]) | uint16(b[57+2*i])<<8
	}
	return string(utf16.Decode(u))
}

// Microsoft Word keeps no descriptor open: it marks an open document with
// an owner file "~$NAME" beside it (for a long name, "~$" takes the place
// of its first two characters). Its appearance on site-a locks the
// document on site-b and site-c, each of which gets an owner file of its
// own naming site-a's user and host, never site-a's file copied; a save
// meanwhile reaches the targets at the latest at the close; the owner
// file's removal releases them and takes their owner files away. No "~$"
// file is ever synchronised as content.
func TestLiveMSOfficeOwnerFile(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	docs := []struct{ doc, owner string }{
		{"docs/plan.docx", "docs/~$plan.docx"},                     // short: a plain prefix
		{"docs/QuarterlyReport.docx", "docs/~$arterlyReport.docx"}, // long: Word's shortening
	}
	const orig, saved = "docx v1", "docx v2, saved in Word on site-a"
	for _, h := range threeHosts {
		for _, d := range docs {
			writeFile(t, c.root(h), d.doc, orig, liveT0)
		}
	}
	startLive(t, c, "mso")
	imm, _ := immutableWorks(t, c.dir)

	for _, d := range docs {
		owner := wordOwnerFile("alice")
		if err := os.WriteFile(livePath(c, "site-a", d.owner), owner, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, h := range []string{"site-b", "site-c"} {
			waitFor(t, liveWait, d.doc+" to be locked on "+h, func() bool { return lockedOn(t, c, h, d.doc, imm) })
			var got []byte
			waitFor(t, liveWait, "a mirrored owner file "+d.owner+" on "+h, func() bool {
				var err error
				got, err = os.ReadFile(livePath(c, h, d.owner))
				return err == nil && ownerFileUser(got) != ""
			})
			if u := ownerFileUser(got); u != "alice on site-a" {
				t.Errorf("mirrored owner file %s on %s names %q, want %q", d.owner, h, u, "alice on site-a")
			}
		}
		if got := readFile(t, c.root("site-a"), d.owner); got != string(owner) {
			t.Errorf("site-a's own owner file %s was changed", d.owner)
		}
	}
	l := locks(t, c, "mso")
	if len(l) != 2 {
		t.Fatalf("lock table %+v, want both documents", l)
	}
	for i, d := range []string{docs[1].doc, docs[0].doc} { // in path order
		if l[i].Path != d || l[i].Source != "site-a" || l[i].User != "alice" || len(l[i].Targets) != 2 {
			t.Errorf("lock %+v, want %s held by alice on site-a, locked on both targets", l[i], d)
		}
	}

	// Word saves the first document while it stays open.
	if err := os.WriteFile(livePath(c, "site-a", docs[0].doc), []byte(saved), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // a save sent at once has had time to land
	for _, h := range []string{"site-b", "site-c"} {
		waitFor(t, liveWait, docs[0].doc+" to stay locked on "+h+" after the save", func() bool {
			_, err := os.Stat(livePath(c, h, docs[0].owner))
			return lockedOn(t, c, h, docs[0].doc, imm) && err == nil
		})
	}

	// Word closes both: the owner files go.
	for _, d := range docs {
		if err := os.Remove(livePath(c, "site-a", d.owner)); err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range []string{"site-b", "site-c"} {
		waitFor(t, liveWait, "both documents released on "+h+", the saved content in place, no owner file left", func() bool {
			for i, d := range docs {
				want := orig
				if i == 0 {
					want = saved
				}
				if _, err := os.Lstat(livePath(c, h, d.owner)); !errors.Is(err, fs.ErrNotExist) || !releasedOn(t, c, h, d.doc, want, 0o644) {
					return false
				}
			}
			return true
		})
	}
	waitFor(t, liveWait, "the lock table to be empty", func() bool { return len(locks(t, c, "mso")) == 0 })

	// An owner file left on site-b (Word crashed there) is never content:
	// it stays where it is and reaches nobody.
	stale := wordOwnerFile("bob")
	if err := os.WriteFile(livePath(c, "site-b", "docs/~$stale.docx"), stale, 0o644); err != nil {
		t.Fatal(err)
	}
	writeFile(t, c.root("site-b"), "docs/after.txt", "after\n", time.Time{})
	waitFor(t, liveWait, "docs/after.txt on site-a and site-c", func() bool {
		for _, h := range []string{"site-a", "site-c"} {
			if _, err := os.Stat(livePath(c, h, "docs/after.txt")); err != nil {
				return false
			}
		}
		return true
	})
	for _, h := range threeHosts {
		tr, err := trySnapshot(c.root(h))
		if err != nil {
			t.Fatal(err)
		}
		for p := range tr {
			if strings.Contains(p, "~$") && (h != "site-b" || p != "docs/~$stale.docx") {
				t.Errorf("%s on %s: an owner file was synchronised", p, h)
			}
		}
	}
	if s := c.session("mso"); s.Status.ErrorCount != 0 || s.Status.Quarantined != 0 {
		t.Errorf("session: %d errors %v, %d quarantined; want none", s.Status.ErrorCount, s.Status.Errors, s.Status.Quarantined)
	}
}
