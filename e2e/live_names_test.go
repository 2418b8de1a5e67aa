//go:build linux

package e2e

import (
	"os"
	"testing"
)

// Names that differ only in case or Unicode form, made while a session
// runs, are held apart as at a start (issue 17, item 9): the second name
// goes to the File Conflict List as a name clash and reaches no other host,
// while a rename that changes only a name's case propagates.
func TestLiveNameClashesQuarantined(t *testing.T) {
	t.Parallel()
	c := liveCluster(t)
	for _, h := range threeHosts {
		writeFile(t, c.root(h), "CaseX.txt", "upper\n", liveT0)
		writeFile(t, c.root(h), "caf\u00e9.txt", "nfc\n", liveT0)
		writeFile(t, c.root(h), "Report.txt", "report\n", liveT0)
	}
	startLive(t, c, "names")

	writeFile(t, c.root("site-a"), "casex.txt", "lower\n", liveT0)
	writeFile(t, c.root("site-a"), "cafe\u0301.txt", "nfd\n", liveT0)
	if err := os.Rename(livePath(c, "site-a", "Report.txt"), livePath(c, "site-a", "REPORT.txt")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, c.root("site-a"), "after.txt", "after\n", liveT0)

	waitFor(t, liveWait, "casex.txt and the NFD café in the File Conflict List as name clashes", func() bool {
		list := conflictList(t, c, "names")
		return list["casex.txt"].Reason == "name-clash" && list["cafe\u0301.txt"].Reason == "name-clash"
	})
	waitFor(t, liveWait, "after.txt and REPORT.txt on site-b and site-c", func() bool {
		for _, h := range []string{"site-b", "site-c"} {
			if _, err := os.Stat(livePath(c, h, "after.txt")); err != nil {
				return false
			}
			if _, err := os.Stat(livePath(c, h, "REPORT.txt")); err != nil {
				return false
			}
		}
		return true
	})
	for _, h := range []string{"site-b", "site-c"} {
		for _, p := range []string{"casex.txt", "cafe\u0301.txt", "Report.txt"} {
			if _, err := os.Lstat(livePath(c, h, p)); err == nil {
				t.Errorf("%s on %s", p, h)
			}
		}
		if got := readFile(t, c.root(h), "CaseX.txt"); got != "upper\n" {
			t.Errorf("CaseX.txt on %s is %q", h, got)
		}
	}
}
