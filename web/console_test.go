package web

import (
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The console is served with a strict Content-Security-Policy (scripts,
// styles and everything else from the hub only, nothing inline): these
// checks catch a page that would break under it before a browser does.

func TestConsoleFSHoldsTheConsole(t *testing.T) {
	fsys := ConsoleFS()
	for _, name := range []string{"index.html", "app.js", "style.css", "favicon.svg"} {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			t.Fatalf("ConsoleFS: %v", err)
		}
		if len(b) == 0 {
			t.Errorf("%s is empty", name)
		}
	}
}

func TestConsolePageHasNothingInline(t *testing.T) {
	page := read(t, "index.html")
	for _, m := range regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`).FindAllStringSubmatch(page, -1) {
		if !strings.Contains(m[1], `src="/assets/`) || strings.TrimSpace(m[2]) != "" {
			t.Errorf("inline script %q: the CSP allows scripts from /assets/ only", m[0])
		}
	}
	for _, bad := range []*regexp.Regexp{
		regexp.MustCompile(`(?i)<style\b`),
		regexp.MustCompile(`(?i)\sstyle\s*=`),
		regexp.MustCompile(`(?i)\son[a-z]+\s*=`),
		regexp.MustCompile(`(?i)javascript:`),
	} {
		if loc := bad.FindStringIndex(page); loc != nil {
			t.Errorf("index.html has %q: inline styles and handlers break under the CSP", page[loc[0]:loc[1]])
		}
	}
}

func TestConsoleLoadsOnlyItsOwnFiles(t *testing.T) {
	fsys := ConsoleFS()
	page := read(t, "index.html")
	refs := regexp.MustCompile(`(?i)(?:src|href)="([^"#][^"]*)"`).FindAllStringSubmatch(page, -1)
	if len(refs) == 0 {
		t.Fatal("index.html references no asset")
	}
	for _, m := range refs {
		name, ok := strings.CutPrefix(m[1], "/assets/")
		if !ok {
			t.Errorf("index.html loads %q: everything comes from /assets/", m[1])
			continue
		}
		if _, err := fs.Stat(fsys, name); err != nil {
			t.Errorf("index.html loads %q, which the console does not have", m[1])
		}
	}
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}[/"')]`)
	for _, name := range append([]string{"index.html", "style.css"}, modules(t)...) {
		for _, hit := range external.FindAllString(read(t, name), -1) {
			if strings.Contains(hit, "www.w3.org/2000/svg") {
				continue
			}
			t.Errorf("%s refers to %q: the console loads nothing from the internet", name, hit)
		}
	}
	if strings.Contains(read(t, "style.css"), "@import") {
		t.Error("style.css imports another stylesheet: the console has one")
	}
}

// TestConsoleModulesResolve follows app.js's imports: every one is a file of
// the console, flat beside it (the hub serves /assets/{file}).
func TestConsoleModulesResolve(t *testing.T) {
	mods := modules(t)
	if len(mods) < 2 {
		t.Fatalf("modules reachable from app.js: %v", mods)
	}
	js, err := fs.Glob(ConsoleFS(), "*.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range js {
		if !slices.Contains(mods, f) {
			t.Errorf("%s is not imported from app.js: dead code, or a missing import", f)
		}
	}
}

// modules returns app.js and every module it imports, directly or not.
func modules(t *testing.T) []string {
	t.Helper()
	imports := regexp.MustCompile(`(?m)^import\s[^;]*?from\s+'([^']+)';`)
	seen := []string{"app.js"}
	for i := 0; i < len(seen); i++ {
		for _, m := range imports.FindAllStringSubmatch(read(t, seen[i]), -1) {
			name, ok := strings.CutPrefix(m[1], "./")
			if !ok || strings.Contains(name, "/") {
				t.Errorf("%s imports %q: import the console's own modules as ./NAME.js", seen[i], m[1])
				continue
			}
			if _, err := fs.Stat(ConsoleFS(), name); err != nil {
				t.Errorf("%s imports %q, which the console does not have", seen[i], m[1])
				continue
			}
			if !slices.Contains(seen, name) {
				seen = append(seen, name)
			}
		}
	}
	return seen
}

func read(t *testing.T, name string) string {
	t.Helper()
	b, err := fs.ReadFile(ConsoleFS(), name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
