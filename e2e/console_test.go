//go:build linux

package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/peerlink/peerlink/web/certs"
)

// The hub's web console (issue 6) in a real browser: headless Chromium,
// driven over the DevTools protocol by chromedp, against a hub and two
// agents running as separate processes. The test does what an
// administrator does (sign in, define a session in the dialog, start it,
// resolve a conflict by clicking the winning host) and checks the files on
// disk. Chromium talks to nothing but the hub on 127.0.0.1.

// chromiumPath is Debian's chromium package; .ci/run installs it.
const chromiumPath = "/usr/bin/chromium"

// consolePassword is the admin password the test's hub is given.
const consolePassword = "correct horse battery"

// browserWait bounds every wait for the page to show something.
const browserWait = 45 * time.Second

func TestConsole(t *testing.T) {
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
	v1 := fileAt{"shared notes\nline two\nline three\n", tAt(0)}
	writeFile(t, c.root("site-a"), "notes.txt", v1.content, v1.mtime)
	writeFile(t, c.root("site-a"), "docs/readme.txt", "read me\n", tAt(0))
	// Enough for the initial synchronisation to be more than an instant.
	for i := range 150 {
		writeFile(t, c.root("site-a"), fmt.Sprintf("bulk/part-%03d.txt", i), strings.Repeat("x", 512+i), tAt(0))
	}
	writeFile(t, c.root("site-b"), "bulk/large.bin", strings.Repeat("0123456789abcdef", 1<<20), tAt(0))

	b := newChrome(t, filepath.Join(c.dir, "chromium"), hubSPKI(t, c))
	shots := filepath.Join(c.dir, "screenshots")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	// Sign-in: a wrong password is refused with a message, the right one
	// reaches the dashboard and opens the live feed.
	b.do(chromedp.Navigate(c.hubURL + "/"))
	b.waitJS("the sign-in form", `!!document.querySelector('#password') && document.activeElement.id === 'password'`)
	b.do(chromedp.SendKeys(chromedp.ID("password"), "not the password"))
	b.click("#signin-button")
	b.waitText("#signin-error", "Wrong user name or password")
	b.screenshot(shots, "signin")
	b.do(chromedp.SendKeys(chromedp.ID("password"), consolePassword))
	b.click("#signin-button")
	b.waitJS("the dashboard", `!!document.querySelector('#sessions') && !!document.querySelector('#agents table')`)
	b.waitJS("the live feed", `document.querySelector('#live').dataset.state === 'open'`)
	b.waitText("#agents", "site-a")
	b.waitText("#agents", "site-b")

	// The dialog: client-side checks first, then the hub's own refusal, then
	// a session of the two agents with manual resolution.
	b.click("#new-session")
	b.waitJS("the configuration dialog", `document.querySelector('#dialog').open && document.activeElement.id === 'cfg-name'`)
	b.click("#cfg-save")
	b.waitText("#cfg-errors", "Give the session a name.")
	b.waitText("#cfg-errors", "at least two hosts")
	b.do(chromedp.SendKeys(chromedp.ID("cfg-name"), "docs"))
	b.setSelect(`#cfg-hosts tr:nth-child(1) select.host`, "site-a")
	b.do(chromedp.SendKeys(chromedp.CSS(`#cfg-hosts tr:nth-child(1) input.root`), "relative/root"))
	b.setSelect(`#cfg-hosts tr:nth-child(2) select.host`, "site-a")
	b.do(chromedp.SendKeys(chromedp.CSS(`#cfg-hosts tr:nth-child(2) input.root`), c.root("site-b")))
	b.click("#cfg-save")
	b.waitText("#cfg-errors", "is relative")
	b.waitText("#cfg-errors", "named twice")
	b.do(chromedp.SetValue(chromedp.CSS(`#cfg-hosts tr:nth-child(1) input.root`), c.root("site-a")))
	b.setSelect(`#cfg-hosts tr:nth-child(2) select.host`, "*")
	b.do(chromedp.SendKeys(chromedp.CSS(`#cfg-hosts tr:nth-child(2) input.other`), "ghost"))
	b.click("#cfg-save")
	b.waitText("#cfg-errors", "The hub refused the session: host ghost is unknown")
	b.setSelect(`#cfg-hosts tr:nth-child(2) select.host`, "site-b")
	b.click("#cfg-next")
	b.click("#cfg-next")
	b.waitJS("step 3", `!document.querySelector('#step-conflicts').hidden`)
	b.click(`input[name=resolver][value=manual]`)
	b.waitJS("the manual resolver", `document.querySelector('#cfg-truncate').disabled`)
	b.do(chromedp.EmulateViewport(1280, 1180)) // the whole step in the picture
	b.screenshot(shots, "dialog")
	b.do(chromedp.EmulateViewport(1280, 860))
	b.click("#go-filters")
	b.do(chromedp.SendKeys(chromedp.ID("cfg-exclude"), "*.bak\n/scratch/"))
	b.click("#cfg-save")
	b.waitJS("the session page", `location.hash === '#/s/docs' && !document.querySelector('#dialog').open && !!document.querySelector('#phase .badge')`)
	s := c.session("docs")
	if s.Options.Resolver != "manual" || len(s.Hosts) != 2 || s.Hosts[1].Host != "site-b" || strings.Join(s.Exclude, ",") != "*.bak,/scratch/" {
		t.Fatalf("the dialog defined %+v", s.SessionConfig)
	}

	// Start: the phase goes to running on the page, by the live feed.
	// The page draws the synchronisation's progress bars as the live
	// feed reports it, then its end: every file done.
	b.do(chromedp.Evaluate[chromedp.Void](`window.peerlinkBars = 0;
		new MutationObserver(() => { if (document.querySelector('#summary progress')) window.peerlinkBars++; })
			.observe(document.querySelector('#summary'), {childList: true, subtree: true})`))
	b.click(`#session-actions button[data-key="a-Start"]`)
	b.waitJS("the session to run", `document.querySelector('#phase [data-phase]').dataset.phase === 'running'`)
	if b.evalInt(`window.peerlinkBars`) == 0 {
		t.Error("no progress bar was drawn while the session started")
	}
	st := c.session("docs").Status
	if st.Files.Total < 152 || st.Files.Done != st.Files.Total {
		t.Fatalf("the hub's count of the initial synchronisation: %+v", st.Files)
	}
	b.waitText("#synced", fmt.Sprintf("%d / %d files", st.Files.Done, st.Files.Total))
	waitFor(t, liveWait, "notes.txt on site-b", func() bool {
		got, err := os.ReadFile(filepath.Join(c.root("site-b"), "notes.txt"))
		return err == nil && string(got) == v1.content
	})
	b.waitJS("the event log", `!!document.querySelector('#event-list').firstChild`)

	// A conflict: both hosts change notes.txt while the session is stopped.
	b.click(`#session-actions button[data-key="a-Stop"]`)
	b.waitJS("the session to stop", `document.querySelector('#phase [data-phase]').dataset.phase === 'stopped'`)

	// Edit while stopped: the dialog opens on the session's definition.
	b.click(`#session-actions button[data-key="a-Edit"]`)
	b.waitJS("the edit dialog", `document.querySelector('#dialog').open && document.querySelector('#cfg-name').disabled &&
		document.querySelector('#cfg-name').value === 'docs' && document.querySelector('#cfg-hosts tr:nth-child(2) select.host').value === 'site-b'`)
	b.click("#go-conflicts")
	b.waitJS("step 3 as defined", `document.querySelector('input[name=resolver][value=manual]').checked && document.querySelector('#cfg-days').value === '30'`)
	b.do(chromedp.SetValue(chromedp.ID("cfg-days"), "7"))
	b.waitJS("the lock grace as defined", `document.querySelector('#cfg-grace').value === '5m0s'`)
	b.do(chromedp.SetValue(chromedp.ID("cfg-grace"), "90s"))
	b.click("#go-delta")
	b.waitJS("step 4 as defined", `!document.querySelector('#step-delta').hidden &&
		document.querySelector('#cfg-delta').checked && document.querySelector('#cfg-delta-min').value === '1024'`)
	b.do(chromedp.SetValue(chromedp.ID("cfg-delta-min"), "256"))
	b.click("#cfg-save")
	b.waitJS("the dialog to close", `!document.querySelector('#dialog').open && !!document.querySelector('#phase [data-phase]')`)
	if s := c.session("docs"); s.ProtectDays != 7 || s.Options.Resolver != "manual" || len(s.Exclude) != 2 ||
		s.LockGrace == nil || time.Duration(*s.LockGrace) != 90*time.Second ||
		s.Delta == nil || !*s.Delta || s.DeltaMin != 256<<10 {
		t.Fatalf("after the edit: %+v", s.SessionConfig)
	}
	b.waitText("#options", "1m30s")
	b.waitText("#options", "files of 256 KiB and more")
	va := fileAt{"shared notes\nline two, as site-a has it\nline three\n", tAt(time.Hour)}
	vb := fileAt{"shared notes\nline two, as site-b has it\nline three\nand a fourth line\n", tAt(2 * time.Hour)}
	writeFile(t, c.root("site-a"), "notes.txt", va.content, va.mtime)
	writeFile(t, c.root("site-b"), "notes.txt", vb.content, vb.mtime)

	// The File Conflict List is open, and stays open without a reload
	// while the session starts elsewhere (the CLI): the conflict comes by
	// the live feed.
	b.click("#conflicts-link")
	b.waitJS("the empty File Conflict List", `location.hash === '#/s/docs/conflicts' && !!document.querySelector('#no-conflicts')`)
	b.do(chromedp.Evaluate[chromedp.Void](`window.peerlinkNotReloaded = true`))
	c.mustCLI("session", "start", "docs")
	b.waitJS("notes.txt in the list", `!!document.querySelector('article.conflict[data-path="notes.txt"]')`)
	if !b.eval(`window.peerlinkNotReloaded === true`) {
		t.Fatal("the page was reloaded: the conflict should arrive over the WebSocket")
	}
	b.waitText(`article.conflict[data-path="notes.txt"]`, "manual-resolution")
	b.waitText(`article.conflict[data-path="notes.txt"]`, sha256Hex(va.content)[:12])
	b.waitText(`article.conflict[data-path="notes.txt"]`, sha256Hex(vb.content)[:12])

	// The diff of the two hosts' copies shows both texts side by side.
	b.click(`button[aria-label="Compare copies of notes.txt"]`)
	b.waitText("#diff", "line two, as site-a has it")
	b.waitText("#diff", "line two, as site-b has it")
	b.waitText("#diff", "and a fourth line")
	if n := b.evalInt(`document.querySelectorAll('#diff td.del').length`); n != 1 {
		t.Errorf("the diff marks %d cells as only on site-a, want 1", n)
	}
	if n := b.evalInt(`document.querySelectorAll('#diff td.add').length`); n != 2 {
		t.Errorf("the diff marks %d cells as only on site-b, want 2", n)
	}
	b.screenshot(shots, "conflicts")

	// site-b wins; the list empties by itself and every host holds its copy.
	waitFor(t, liveWait, "the session to run", func() bool {
		s, err := c.client().Session(context.Background(), "docs")
		return err == nil && s.Status.Phase == "running"
	})
	b.click(`button[aria-label="Make site-b the winner of notes.txt"]`)
	b.waitJS("the list to empty", `!!document.querySelector('#no-conflicts')`)
	waitFor(t, liveWait, "site-b's notes.txt on every host", func() bool {
		got, err := os.ReadFile(filepath.Join(c.root("site-a"), "notes.txt"))
		return err == nil && string(got) == vb.content
	})
	holds(t, c, "notes.txt", vb, "site-a", "site-b")

	// The resolution is in the session's event log, with who resolved it.
	b.click(`nav.crumbs a[href="#/s/docs"]`)
	b.waitJS("the session page", `location.hash === '#/s/docs' && !!document.querySelector('#ev-kind')`)
	b.setSelect("#ev-kind", "conflict-resolved")
	b.waitText("#event-list", "conflict-resolved")
	b.waitText("#event-list", "admin (console")
	b.waitText("#event-list", "the copy on site-b won")
	// So are the start from the console (with who started it) and the
	// conflict the start found.
	b.setSelect("#ev-kind", "conflict")
	b.waitText("#event-list", "notes.txt")
	b.waitText("#event-list", "manual-resolution")
	b.setSelect("#ev-kind", "start")
	b.waitText("#event-list", "admin (console")
	b.setSelect("#ev-kind", "")
	b.waitJS("the whole log", `!document.querySelector('#event-list').textContent.includes('No event matches')`)
	b.screenshot(shots, "session")

	// A change without the CSRF token is refused, and changes nothing.
	if code := b.evalInt(`fetch('/api/v1/sessions/docs/stop', {method: 'POST'}).then((r) => r.status)`, chromedp.EvalAwaitPromise); code != 403 {
		t.Errorf("POST stop without X-CSRF-Token: status %d, want 403", code)
	}
	if s := c.session("docs"); s.Status.Phase != "running" {
		t.Errorf("after the refused stop the session is %s, want running", s.Status.Phase)
	}

	// The dashboard, on a laptop and on a phone.
	b.click(`nav#nav a[href="#/"]`)
	b.waitJS("the dashboard", `!!document.querySelector('#sessions a[href="#/s/docs"]') && !!document.querySelector('#agents table')`)
	b.waitText("#sessions", "running")
	b.screenshot(shots, "dashboard")

	// The keyboard alone: Enter opens the dialog, Tab stays inside it,
	// Escape closes it and gives the focus back.
	b.do(chromedp.Focus(chromedp.ID("new-session")), chromedp.KeyEvent(kb.Enter))
	b.waitJS("the dialog, by the keyboard", `document.querySelector('#dialog').open && document.activeElement.id === 'cfg-name'`)
	b.do(chromedp.Evaluate[chromedp.Void](`Array.from(document.querySelectorAll('#dialog .dialog-foot button')).pop().focus()`))
	b.do(chromedp.KeyEvent(kb.Tab))
	b.waitJS("Tab to wrap to the dialog's first control", `document.activeElement === document.querySelector('#dialog .dialog-head button')`)
	b.do(chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(chromedp.ModifierShift)))
	b.waitJS("Shift+Tab to wrap to the last", `document.activeElement === Array.from(document.querySelectorAll('#dialog .dialog-foot button')).pop()`)
	b.do(chromedp.KeyEvent(kb.Escape))
	b.waitJS("Escape to close the dialog", `!document.querySelector('#dialog').open && document.activeElement.id === 'new-session'`)
	b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	b.screenshot(shots, "phone")
	b.do(chromedp.EmulateViewport(1280, 860))

	// The line diff on its own, through its module's exports.
	var d struct {
		Added, Removed int
		Capped, Same   bool
		Rows           int
	}
	b.evalJSON(`import('/assets/diff.js').then((m) => {
		const r = m.lineDiff('a\nb\nc\nd\n', 'a\nB\nc\nd\ne\n');
		const big = m.lineDiff('x\n'.repeat(6000), 'x\n'.repeat(6000));
		return {added: r.added, removed: r.removed, capped: big.capped, same: m.lineDiff('q\n', 'q').same,
			rows: m.sideBySide(r.ops).length};
	})`, &d)
	if d.Added != 2 || d.Removed != 1 || !d.Capped || !d.Same || d.Rows != 5 {
		t.Errorf("lineDiff: %+v, want 2 added, 1 removed, capped past 5000 lines, a final newline ignored, 5 rows", d)
	}

	// Sign out: the API refuses the browser; five wrong passwords in a row
	// then make the sign-in page say when to try again.
	b.click("#signout")
	b.waitText("#signin-error", "You signed out.")
	if code := b.evalInt(`fetch('/api/v1/sessions').then((r) => r.status)`, chromedp.EvalAwaitPromise); code != 401 {
		t.Errorf("GET sessions after sign-out: status %d, want 401", code)
	}
	for i := 0; i < 6; i++ {
		b.waitJS("the sign-in button", `!document.querySelector('#signin-button').disabled`)
		b.do(chromedp.SendKeys(chromedp.ID("password"), fmt.Sprintf("wrong %d", i)))
		b.click("#signin-button")
		b.waitJS("an answer", `!document.querySelector('#signin-error').hidden && !document.querySelector('#signin-error').textContent.includes('signed out')`)
		if strings.Contains(b.text("#signin-error"), "Too many attempts") {
			break
		}
		b.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('#signin-error').hidden = true`))
	}
	b.waitText("#signin-error", "Too many attempts, try again in")
	b.checkNoErrors()

	if os.Getenv("PEERLINK_UPDATE_SCREENSHOTS") == "1" {
		if err := os.MkdirAll(filepath.Join("..", "docs"), 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"signin", "dashboard", "session", "conflicts", "dialog", "phone"} {
			data, err := os.ReadFile(filepath.Join(shots, name+".png"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join("..", "docs", "console-"+name+".png"), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("screenshots copied to docs/console-*.png")
	}
}

// chrome is a headless Chromium with one tab, and what its pages
// reported as errors.
type chrome struct {
	t   *testing.T
	ctx context.Context

	mu     sync.Mutex
	errors []string
}

// hubSPKI is the base64 SHA-256 of the public key of the certificate the
// cluster's hub serves, as Chromium's SPKI pin list takes it.
func hubSPKI(t *testing.T, c *cluster) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(c.dir, "hub", "tls", "server.pem"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := certs.ParseCert("server.pem", b)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// newChrome starts Chromium on a fresh profile in dir; the test's cleanup
// ends it (cancelling the allocator kills the process and waits for it).
func newChrome(t *testing.T, dir, spki string) *chrome {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		// The hub's own certificate, pinned by its key as an administrator
		// who imported the hub's CA would trust it; nothing else is.
		chromedp.Flag("ignore-certificate-errors-spki-list", spki),
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// Nothing but the hub: every host name resolves to nowhere.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1280, 860),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	b := &chrome{t: t, ctx: ctx}
	start, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(ctx) }() // the first Run starts the browser: no deadline on its own context
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("start %s: %v", chromiumPath, err)
		}
	case <-start.Done():
		t.Fatalf("%s did not start within a minute", chromiumPath)
	}
	err := chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
		case *log.EventEntryAdded:
			// Refused requests (401, 403, 429) are what some steps expect.
			if ev.Entry.Level == log.EntryLevelError && ev.Entry.Source != log.EntrySourceNetwork {
				msg = string(ev.Entry.Source) + ": " + ev.Entry.Text
			}
		}
		if msg != "" {
			b.mu.Lock()
			b.errors = append(b.errors, msg)
			b.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *chrome) step() (context.Context, context.CancelFunc) {
	return context.WithTimeout(b.ctx, browserWait)
}

// do runs actions in the tab, failing the test on the first error.
func (b *chrome) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %v\npage: %s", err, b.pageText())
	}
}

// click clicks the element sel as a user does. A live update can replace
// the element between the query and the click (a user's click has no such
// gap): then it clicks the new one.
func (b *chrome) click(sel string) {
	b.t.Helper()
	deadline := time.Now().Add(browserWait)
	for {
		ctx, cancel := b.step()
		err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel)))
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("browser: click %s: %v\npage: %s", sel, err, b.pageText())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// eval returns a JavaScript expression's truth.
func (b *chrome) eval(expr string) bool {
	b.t.Helper()
	var v bool
	b.evalJSON(`!!(`+expr+`)`, &v)
	return v
}

func (b *chrome) evalInt(expr string, opts ...chromedp.EvaluateOption) int {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](expr, opts...))
	if err != nil {
		b.t.Fatalf("browser: %s: %v", expr, err)
	}
	return n
}

// evalJSON evaluates expr (a promise is awaited) into v.
func (b *chrome) evalJSON(expr string, v any) {
	b.t.Helper()
	ctx, cancel := b.step()
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("browser: %s: %v", expr, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		b.t.Fatalf("browser: %s gave %s: %v", expr, raw, err)
	}
}

// waitJS waits until a JavaScript expression is true on the page; the
// page's own updates (fetches after a WebSocket notice) make it so, the
// test only looks.
func (b *chrome) waitJS(what, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(browserWait)
	for {
		ctx, cancel := b.step()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { try { return !!(`+expr+`); } catch (e) { return false; } })()`))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out after %s waiting for %s (%s), err %v\npage: %s", browserWait, what, expr, err, b.pageText())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitText waits until the element sel shows text.
func (b *chrome) waitText(sel, text string) {
	b.t.Helper()
	q, _ := json.Marshal(sel)
	s, _ := json.Marshal(text)
	b.waitJS(fmt.Sprintf("%q in %s", text, sel), fmt.Sprintf(`document.querySelector(%s).textContent.includes(%s)`, q, s))
}

func (b *chrome) text(sel string) string {
	b.t.Helper()
	q, _ := json.Marshal(sel)
	var s string
	b.evalJSON(fmt.Sprintf(`(document.querySelector(%s) || {}).textContent || ''`, q), &s)
	return s
}

// setSelect picks an option of a select as a user does: value, then the
// change event the page listens for.
func (b *chrome) setSelect(sel, value string) {
	b.t.Helper()
	q, _ := json.Marshal(sel)
	v, _ := json.Marshal(value)
	var ok bool
	b.evalJSON(fmt.Sprintf(`(() => { const e = document.querySelector(%s); if (!e) return false;
		e.value = %s; e.dispatchEvent(new Event('change', {bubbles: true})); return e.value === %s; })()`, q, v, v), &ok)
	if !ok {
		b.t.Fatalf("browser: no option %s in %s\npage: %s", value, sel, b.pageText())
	}
}

// screenshot saves the whole page as dir/name.png.
func (b *chrome) screenshot(dir, name string) {
	b.t.Helper()
	// No toast nor focus ring over the page: the picture is for people.
	b.do(chromedp.Evaluate[chromedp.Void](`(() => { const t = document.querySelector('#toast');
		t.className = 'toast'; t.textContent = ''; if (document.activeElement) document.activeElement.blur(); })()`))
	ctx, cancel := b.step()
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// pageText is what the page shows, for failure messages.
func (b *chrome) pageText() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.hash + '\n' + document.body.innerText`))
	if err != nil {
		return "(" + err.Error() + ")"
	}
	if len(s) > 3000 {
		s = s[:3000] + "…"
	}
	return s
}

// checkNoErrors fails the test if a page threw or the browser logged an
// error (a CSP refusal among them).
func (b *chrome) checkNoErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errors {
		b.t.Errorf("browser error: %s", e)
	}
}
