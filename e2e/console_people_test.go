//go:build linux

package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/peerlink/peerlink/web/api"
)

// The console's People page (issue 12, points 4 and 5) in a real browser:
// an admin makes an API token there, and the CLI works with the secret
// the page showed once; the admin revokes it there, and the CLI is
// refused. The admin adds a viewer account, which signs in in a browser
// of its own and sees no button that changes a session, an agent or a
// person; the admin then changes its role and removes it.
func TestConsolePeople(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("no %s (apt-get install chromium): the browser test needs it; CI installs it and never skips", chromiumPath)
		}
		t.Fatalf("CI is set but %s is missing: .ci/run must install Debian's chromium", chromiumPath)
	}
	pwFile := filepath.Join(t.TempDir(), "admin-password")
	if err := os.WriteFile(pwFile, []byte(consolePassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, "--admin-password-file", pwFile)
	c.startAgent("site-a")
	c.startAgent("site-b")
	c.createSession("pp", []string{"site-a", "site-b"})

	b := newChrome(t, filepath.Join(c.dir, "chromium-admin"), hubSPKI(t, c))
	b.do(chromedp.Navigate(c.hubURL + "/#/people"))
	b.waitJS("the sign-in form", `!!document.querySelector('#password')`)
	b.do(chromedp.SendKeys(chromedp.ID("password"), consolePassword))
	b.click("#signin-button")
	b.waitJS("the People link", `!document.querySelector('#nav-people').hidden`)
	b.waitText("#token-list", "hub-admin")
	b.waitText("#account-list", "admin")

	// A token made in the console works for the CLI, with its role.
	b.do(chromedp.SendKeys(chromedp.ID("token-name"), "alice"))
	b.setSelect("#token-role", "helpdesk")
	b.click("#create-token")
	b.waitJS("the new token's secret", `!!document.querySelector('#token-secret')`)
	secret := strings.TrimSpace(b.text("#token-secret"))
	if err := api.CheckTokenFormat(secret); err != nil {
		t.Fatalf("the page showed %q as the secret: %v", secret, err)
	}
	if !strings.Contains(b.text("#token-out"), "shown this once") || !b.eval(`!!document.querySelector('#copy-token')`) {
		t.Errorf("the secret is shown without saying it is shown once, or without a copy button: %q", b.text("#token-out"))
	}
	b.waitText("#token-list", "alice")
	if os.Getenv("PEERLINK_UPDATE_SCREENSHOTS") == "1" {
		b.screenshot(filepath.Join("..", "docs"), "console-people")
	}
	if r := as(t, c, secret, "session", "list"); r.code != 0 || !strings.Contains(r.stdout, "pp") {
		t.Fatalf("the CLI with the console's token: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	mustFail(t, "the console's helpdesk token: session stop", as(t, c, secret, "session", "stop", "pp"), "needs the admin role", "token alice")
	out := c.mustCLI("tokens", "list")
	if !strings.Contains(out, "alice") || !strings.Contains(out, "helpdesk") {
		t.Errorf("tokens list after the console made alice:\n%s", out)
	}

	// Revoked in the console (after a confirmation): the CLI is refused.
	b.click(`[data-key="t-alice"]`)
	b.click(`[data-key="tv-alice"]`)
	b.waitJS("alice to leave the list", `![...document.querySelectorAll('#token-list strong')].some((e) => e.textContent === 'alice')`)
	if b.eval(`!!document.querySelector('#token-secret')`) {
		t.Errorf("the revoked token's secret is still shown")
	}
	mustFail(t, "the CLI with the revoked token", as(t, c, secret, "session", "list"), "alice was revoked")

	// A viewer account, added in the console, signs in in a browser of its
	// own and sees nothing it may not do.
	b.do(chromedp.SendKeys(chromedp.ID("user-name"), "vic"))
	b.setSelect("#user-role", "viewer")
	b.do(chromedp.SendKeys(chromedp.ID("user-password"), "viewer pass 1"))
	b.click("#add-user")
	b.waitJS("vic in the accounts", `!!document.querySelector('#role-vic') && document.querySelector('#role-vic').value === 'viewer'`)

	v := newChrome(t, filepath.Join(c.dir, "chromium-vic"), hubSPKI(t, c))
	v.do(chromedp.Navigate(c.hubURL + "/#/s/pp"))
	v.waitJS("the sign-in form", `!!document.querySelector('#user')`)
	v.do(chromedp.SetValue("#user", "vic"), chromedp.SendKeys(chromedp.ID("password"), "viewer pass 1"))
	v.click("#signin-button")
	v.waitText("#who", "vic (viewer)")
	v.waitJS("the session page", `!!document.querySelector('#phase [data-phase]') && !!document.querySelector('#conflicts-link')`)
	absent := func(page string, sels ...string) {
		t.Helper()
		for _, sel := range sels {
			if v.eval(`!!document.querySelector('` + sel + `')`) {
				t.Errorf("a viewer sees %s on %s", sel, page)
			}
		}
	}
	absent("the session page", `[data-key="a-Start"]`, `[data-key="a-Stop"]`, `[data-key="a-Edit"]`, `[data-key="a-Delete"]`)
	v.do(chromedp.Navigate(c.hubURL + "/#/"))
	v.waitJS("the dashboard", `!!document.querySelector('#sessions table') && !!document.querySelector('#credentials table')`)
	absent("the dashboard", `#new-session`, `#create-join-code`, `#join-name`, `#credentials button`)
	if !v.eval(`document.querySelector('#nav-people').hidden`) {
		t.Errorf("a viewer sees the People link")
	}
	v.do(chromedp.Navigate(c.hubURL + "/#/people"))
	v.waitText("main", "managed by an admin")
	absent("the People page", `#create-token`, `#add-user`, `#token-list`, `#account-list`)
	v.checkNoErrors() // before its role changes, which ends its sign-in

	// The admin changes vic's role, then removes vic.
	b.setSelect("#role-vic", "helpdesk")
	b.waitJS("vic's new role", `document.querySelector('#role-vic') && document.querySelector('#role-vic').value === 'helpdesk'`)
	if out := c.mustCLI("users", "list"); !strings.Contains(out, "helpdesk") {
		t.Errorf("users list after the console made vic helpdesk:\n%s", out)
	}
	if b.eval(`!!document.querySelector('[data-key="u-admin"]')`) {
		t.Errorf("the admin is offered to remove their own account")
	}
	b.click(`[data-key="u-vic"]`)
	b.click(`[data-key="uv-vic"]`)
	b.waitJS("vic to leave the accounts", `!document.querySelector('#role-vic')`)
	if out := c.mustCLI("users", "list"); strings.Contains(out, "vic") {
		t.Errorf("users list after the console removed vic:\n%s", out)
	}
	b.checkNoErrors()
}
