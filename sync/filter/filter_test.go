package filter

import (
	"errors"
	"path"
	"strings"
	"testing"
)

func TestExcluded(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		path     string
		dir      bool
		want     bool
	}{
		{"an element pattern matches a base name at the root", []string{"*.bak"}, "a.bak", false, true},
		{"an element pattern matches a base name at any depth", []string{"*.bak"}, "x/y/a.bak", false, true},
		{"an element pattern does not match part of a name", []string{"*.bak"}, "a.bak.txt", false, false},
		{"an element pattern matching a folder excludes everything below", []string{"node_modules"}, "web/node_modules/x/y.js", false, true},
		{"an element pattern excludes the folder itself", []string{"node_modules"}, "web/node_modules", true, true},
		{"a path pattern matches from the root", []string{"build/out"}, "build/out", true, true},
		{"a path pattern excludes what is below its match", []string{"build/out"}, "build/out/a.o", false, true},
		{"a path pattern does not match deeper", []string{"build/out"}, "src/build/out", true, false},
		{"a leading slash anchors a single element", []string{"/.peerlink"}, ".peerlink", true, true},
		{"an anchored element does not match deeper", []string{"/.peerlink"}, "a/.peerlink", true, false},
		{"an anchored element excludes below it", []string{"/.peerlink"}, ".peerlink/q/x", false, true},
		{"a trailing slash matches folders", []string{"cache/"}, "a/cache", true, true},
		{"a trailing slash does not match files", []string{"cache/"}, "a/cache", false, false},
		{"a trailing slash pattern excludes a file below a matching folder", []string{"cache/"}, "a/cache/x", false, true},
		{"an anchored folder-only pattern skips a file", []string{"/logs/"}, "logs", false, false},
		{"an anchored folder-only pattern matches the folder", []string{"/logs/"}, "logs", true, true},
		{"question mark matches one character", []string{"?.c"}, "a.c", false, true},
		{"question mark needs exactly one character", []string{"?.c"}, "ab.c", false, false},
		{"a class matches", []string{"[abc].txt"}, "b.txt", false, true},
		{"a negated class", []string{"[^abc].txt"}, "b.txt", false, false},
		{"an escaped star is literal", []string{`\*.txt`}, "*.txt", false, true},
		{"an escaped star does not glob", []string{`\*.txt`}, "a.txt", false, false},
		{"star does not cross a slash", []string{"a/*.o"}, "a/b/c.o", false, false},
		{"double star crosses folders", []string{"a/**/c.o"}, "a/b/x/c.o", false, true},
		{"double star matches zero folders", []string{"a/**/c.o"}, "a/c.o", false, true},
		{"leading double star is any depth", []string{"**/tmp/*.x"}, "p/q/tmp/f.x", false, true},
		{"leading double star at the root", []string{"**/tmp/*.x"}, "tmp/f.x", false, true},
		{"trailing double star excludes the folder", []string{"a/**"}, "a", true, true},
		{"trailing double star excludes below", []string{"a/**"}, "a/b/c", false, true},
		{"trailing double star is anchored", []string{"a/**"}, "b/a/c", false, false},
		{"double star needs the rest to match", []string{"a/**/c"}, "a/b/d", false, false},
		{"several double stars", []string{"**/x/**/y"}, "1/x/2/3/y/4", false, true},
		{"several double stars that fail", []string{"**/x/**/y"}, "1/x/2/3/z/4", false, false},
		{"a pattern in the middle of a long path", []string{"src/*/gen"}, "src/pkg/gen/a/b", false, true},
		{"the root is never excluded", []string{"**"}, "", true, false},
		{"no patterns exclude nothing", nil, "a/b", false, false},
		{"non-ASCII names", []string{"résumé*"}, "docs/résumé final.pdf", false, true},
		{"names with spaces", []string{"My Documents/old"}, "My Documents/old/x", false, true},
		{"literal pattern needs the whole element", []string{"Thumbs.db"}, "a/xThumbs.db", false, false},
		{"prefix and suffix must not overlap", []string{"ab*ba"}, "aba", false, false},
		{"prefix and suffix around anything", []string{"ab*ba"}, "abba", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := New(tt.patterns)
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Excluded(tt.path, tt.dir); got != tt.want {
				t.Errorf("patterns %q: Excluded(%q, dir=%v) = %v, want %v", tt.patterns, tt.path, tt.dir, got, tt.want)
			}
		})
	}
}

func TestDefault(t *testing.T) {
	f, err := New(Default)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want bool
	}{
		{"docs/.peerlink-tmp-0123456789abcdef", true},
		{".peerlink", true},
		{".peerlink/quarantine/a.txt", true},
		{"docs/.peerlink", false}, // only the root's is protected
		{"docs/.~lock.plan.odt#", true},
		{"docs/~$plan.docx", true},
		{"docs/~WRL0001.tmp", true},
		{"docs/.plan.txt.swp", true},
		{"docs/.plan.txt.swo", true},
		{"docs/4913", true},
		{"docs/.#plan.txt", true},
		{"docs/#plan.txt#", true},
		{"docs/plan.txt~", true},
		{"docs/.goutputstream-AB12CD", true},
		{"photos/.DS_Store", true},
		{"photos/Thumbs.db", true},
		{"photos/desktop.ini", true},
		{"data/results.tmp", false}, // *.tmp is too broad to exclude by default
		{"docs/plan.docx", false},
		{"docs/#plan.txt", false},
		{"docs/plan.swp", false},
		{"docs/~plan.docx", false},
		{"docs/49131", false},
	}
	for _, tt := range tests {
		if got := f.Excluded(tt.path, false); got != tt.want {
			t.Errorf("Default excludes %q = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestNewRefusesBadPatterns(t *testing.T) {
	for _, p := range []string{"[", "a/[b", "", "/", "a//b", "a/../b", "./a", `a\`} {
		_, err := New([]string{"ok", p})
		if err == nil {
			t.Errorf("New(%q) accepted a bad pattern", p)
			continue
		}
		if !strings.Contains(err.Error(), `"`+strings.ReplaceAll(p, `\`, `\\`)+`"`) {
			t.Errorf("New(%q) error %q does not name the pattern", p, err)
		}
	}
	_, err := New([]string{"x[y"})
	if !errors.Is(err, path.ErrBadPattern) {
		t.Errorf("a malformed class should wrap path.ErrBadPattern, got %v", err)
	}
}

func TestNilFilterExcludesNothing(t *testing.T) {
	var f *Filter
	if f.Excluded("a", false) {
		t.Error("a nil filter excluded a path")
	}
}

func TestIsOfficeLock(t *testing.T) {
	tests := []struct {
		base, doc string
		ok        bool
	}{
		{".~lock.plan.odt#", "plan.odt", true},
		{".~lock.with space é.ods#", "with space é.ods", true},
		{".~lock.#", "", false},
		{".~lock.plan.odt", "", false},
		{"~$test.docx", "test.docx", true},
		{"~$ficeReport.docx", "ficeReport.docx", true},
		{"~$", "", false},
		{"plan.docx", "", false},
		{"$~plan.docx", "", false},
	}
	for _, tt := range tests {
		doc, ok := IsOfficeLock(tt.base)
		if doc != tt.doc || ok != tt.ok {
			t.Errorf("IsOfficeLock(%q) = %q, %v; want %q, %v", tt.base, doc, ok, tt.doc, tt.ok)
		}
	}
}

func TestOfficeLockMatches(t *testing.T) {
	tests := []struct {
		lock, name string
		want       bool
	}{
		{"~$test.docx", "test.docx", true},
		{"~$ficeReport.docx", "OfficeReport.docx", true}, // Word, 12-character name
		{"~$cument1.docx", "Document1.docx", true},
		{"~$port.docx", "Report.docx", false},   // 6 characters keep all of them
		{"~$eport1.docx", "Report1.docx", true}, // 7 characters: one dropped...
		{"~$port1.docx", "Report1.docx", true},  // ...or two, as reports differ
		{"~$ficeReport.docx", "ficeReport.docx", true},
		{"~$ficeReport.docx", "XYZficeReport.docx", false}, // never three
		{"~$ficeReport.docx", "OfficeReport.xlsx", false},
		{"~$über Plan.docx", "Ñ über Plan.docx", true},               // characters, not bytes
		{"~$Quarterly figures.xlsx", "Quarterly figures.xlsx", true}, // Excel keeps the whole name
	}
	for _, tt := range tests {
		doc, ok := IsOfficeLock(tt.lock)
		if !ok {
			t.Fatalf("IsOfficeLock(%q) = false", tt.lock)
		}
		if got := OfficeLockMatches(doc, tt.name); got != tt.want {
			t.Errorf("lock %q belongs to %q = %v, want %v", tt.lock, tt.name, got, tt.want)
		}
	}
}

func FuzzExcluded(f *testing.F) {
	f.Add("a/**/b*", "a/x/y/bc", false)
	f.Add("*.bak", "x/y.bak", true)
	f.Add("/a/", "a/b", false)
	f.Add("**/x/**/y/**", "1/x/2/y", true)
	f.Add("[a-", "a", false)
	f.Fuzz(func(t *testing.T, pattern, p string, dir bool) {
		flt, err := New([]string{pattern})
		if err != nil {
			return
		}
		got := flt.Excluded(p, dir)
		if got != flt.Excluded(p, dir) {
			t.Fatalf("Excluded(%q, %v) is not deterministic", p, dir)
		}
		// A pattern that matches a folder excludes what is below it.
		if got && dir && p != "" && !flt.Excluded(p+"/child", false) {
			t.Fatalf("pattern %q excludes folder %q but not %q", pattern, p, p+"/child")
		}
		// An element pattern without metacharacters agrees with a literal test.
		if !strings.ContainsAny(pattern, "/*?[\\") && pattern != "" && pattern != "." && pattern != ".." {
			want := false
			for _, e := range strings.Split(p, "/") {
				want = want || e == pattern
			}
			if p != "" && got != want {
				t.Fatalf("literal %q on %q: got %v, want %v", pattern, p, got, want)
			}
		}
	})
}

func BenchmarkExcludedDefault(b *testing.B) {
	f, err := New(Default)
	if err != nil {
		b.Fatal(err)
	}
	paths := []string{"projects/2024/client/report final.docx", "src/peerlink/sync/tree/tree.go", "a.txt", "photos/holiday/IMG_0001.JPG"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f.Excluded(paths[i%len(paths)], false)
	}
}
