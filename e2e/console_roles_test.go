//go:build linux

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/peerlink/peerlink/web/api"
)

// The console by role: a viewer sees no button that changes a session or
// releases a lock; a helpdesk releases a lock with the console's button,
// which restores the other host's copy, and the event log names them.
func TestConsoleRoles(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("no %s (apt-get install chromium): the browser test needs it; CI installs it and never skips", chromiumPath)
		}
		t.Fatalf("CI is set but %s is missing: .ci/run must install Debian's chromium", chromiumPath)
	}
	c := liveCluster(t)
	const rel, orig = "team/plan.txt", "plan v1\n"
	for _, h := range []string{"site-a", "site-b"} {
		writeFile(t, c.root(h), rel, orig, liveT0)
		chmod(t, c.root(h), rel, 0o664)
		c.startAgent(h)
	}
	c.createSession("cr", []string{"site-a", "site-b"})
	c.mustCLI("session", "start", "cr", "--wait")
	pw := filepath.Join(c.dir, "pw")
	if err := os.WriteFile(pw, []byte("console pass 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.mustCLI("users", "add", "vic", "--role", "viewer", "--password-file", pw)
	c.mustCLI("users", "add", "hel", "--role", "helpdesk", "--password-file", pw)

	w, err := os.OpenFile(livePath(c, "site-a", rel), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	waitFor(t, liveWait, "the copy on site-b to be locked", func() bool { return lockedOn(t, c, "site-b", rel, false) })

	b := newChrome(t, filepath.Join(c.dir, "chromium"), hubSPKI(t, c))
	signInAs := func(user string) {
		b.do(chromedp.Navigate(c.hubURL + "/#/s/cr"))
		b.waitJS("the sign-in form", `!!document.querySelector('#user')`)
		b.do(chromedp.SetValue("#user", user), chromedp.SendKeys(chromedp.ID("password"), "console pass 1"))
		b.click("#signin-button")
		b.waitText("#who", user+" (")
		b.waitJS("the lock in the session page", `[...document.querySelectorAll('#locks td')].some((td) => td.textContent === '`+rel+`')`)
	}

	signInAs("vic")
	for _, sel := range []string{`[data-key="a-Start"]`, `[data-key="a-Stop"]`, `[data-key="a-Edit"]`, `[data-key="a-Delete"]`, `[data-key^="release-"]`} {
		if b.eval(`!!document.querySelector('` + sel + `')`) {
			t.Errorf("a viewer sees %s", sel)
		}
	}
	b.click("#signout")
	b.waitJS("the sign-in form", `!!document.querySelector('#password')`)

	signInAs("hel")
	if b.eval(`!!document.querySelector('[data-key="a-Stop"]')`) {
		t.Errorf("a helpdesk sees the Stop button")
	}
	b.click(`[data-key="release-` + rel + `"]`)
	waitFor(t, liveWait, rel+" on site-b to be restored", func() bool { return releasedOn(t, c, "site-b", rel, orig, 0o664) })
	// The hub records the release once the targets answered its unlock.
	waitFor(t, liveWait, "the event log to name hel", func() bool {
		evs, err := c.client().Events(context.Background(), "cr", api.EventQuery{Kind: "release-by-hand"})
		return err == nil && len(evs) == 1 && strings.HasPrefix(evs[0].User, "hel (console")
	})
	b.checkNoErrors()
}
