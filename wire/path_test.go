package wire

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkErr fails t unless err matches want: nil when want is "", otherwise
// an error whose message contains want, so a failure names what was wrong.
func checkErr(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error: %v", err)
	case want != "" && err == nil:
		t.Fatalf("no error, want one containing %q", want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Fatalf("error %q does not contain %q", err, want)
	}
}

// checkPathErr fails t unless err is, or wraps, a *PathError for p.
func checkPathErr(t *testing.T, err error, p string) {
	t.Helper()
	var pe *PathError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *PathError", err, err)
	}
	if pe.Path != p {
		t.Fatalf("PathError names %q, want %q", pe.Path, p)
	}
}

var checkPathTests = []struct {
	name   string
	path   string
	reason string // "" when the path is accepted
}{
	{"a single element is accepted", "a", ""},
	{"a nested path is accepted", "a/b", ""},
	{"a deep path is accepted", "a/b/c/d.txt", ""},
	{"non-ASCII UTF-8 is accepted", "名前/ファイル.txt", ""},
	{"a space inside an element is accepted", "with space/x", ""},
	{"a name starting with a dot is accepted", ".hidden", ""},
	{"a nested hidden name is accepted", "a/.git/config", ""},
	{"three dots are a name, not a parent", "...", ""},
	{"dots inside a name are a name", "a..b/c..", ""},
	{"a path of exactly MaxPathLen bytes is accepted", strings.Repeat("a", MaxPathLen), ""},
	{"a nested path of exactly MaxPathLen bytes is accepted", strings.Repeat("ab/", (MaxPathLen-4)/3) + "abcd", ""},

	{"the empty path is refused", "", "empty"},
	{"an absolute path is refused", "/a", "absolute"},
	{"the root alone is refused", "/", "absolute"},
	{"a trailing slash is refused", "a/", "empty element"},
	{"a double slash is refused", "a//b", "empty element"},
	{"the root as dot is refused", ".", `"." element`},
	{"a leading dot element is refused", "./a", `"." element`},
	{"an inner dot element is refused", "a/./b", `"." element`},
	{"a trailing dot element is refused", "a/.", `"." element`},
	{"the parent alone is refused", "..", `".." element`},
	{"an inner parent element is refused", "a/../b", `".." element`},
	{"a leading parent element is refused", "../a", `".." element`},
	{"a trailing parent element is refused", "a/..", `".." element`},
	{"a backslash is refused", `a\b`, "backslash"},
	{"a Windows-style parent is refused", `..\a`, "backslash"},
	{"a NUL byte is refused", "a\x00b", "NUL"},
	{"invalid UTF-8 is refused", "a/\xff\xfe", "UTF-8"},
	{"a truncated UTF-8 sequence is refused", "名前"[:4], "UTF-8"},
	{"a path longer than MaxPathLen is refused", strings.Repeat("a", MaxPathLen+1), "longer than 4096"},
}

func TestCheckPath(t *testing.T) {
	for _, tt := range checkPathTests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPath(tt.path)
			checkErr(t, err, tt.reason)
			if tt.reason != "" {
				checkPathErr(t, err, tt.path)
			}
		})
	}
}

func TestParentAndBase(t *testing.T) {
	tests := []struct {
		name, path, parent, base string
	}{
		{"a path below the root has no parent", "a", "", "a"},
		{"a hidden name below the root has no parent", ".hidden", "", ".hidden"},
		{"a nested path splits at its last slash", "a/b", "a", "b"},
		{"a deep path keeps its parent whole", "a/b/c.txt", "a/b", "c.txt"},
		{"non-ASCII elements split whole", "名前/ファイル.txt", "名前", "ファイル.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Parent(tt.path); got != tt.parent {
				t.Errorf("Parent(%q) = %q, want %q", tt.path, got, tt.parent)
			}
			if got := Base(tt.path); got != tt.base {
				t.Errorf("Base(%q) = %q, want %q", tt.path, got, tt.base)
			}
		})
	}
}

func TestCheckName(t *testing.T) {
	tests := []struct {
		name, s string
		ok      bool
	}{
		{"a short host name is accepted", "site-b", true},
		{"one letter is accepted", "a", true},
		{"one digit is accepted", "7", true},
		{"a leading underscore is accepted", "_x", true},
		{"dots inside are accepted", "host.example.org", true},
		{"mixed case and digits are accepted", "Site_B-2", true},
		{"exactly MaxNameLen characters are accepted", strings.Repeat("x", MaxNameLen), true},

		{"the empty name is refused", "", false},
		{"a name longer than MaxNameLen is refused", strings.Repeat("x", MaxNameLen+1), false},
		{"a leading dot is refused", ".a", false},
		{"a leading dash is refused", "-a", false},
		{"a dot alone is refused", ".", false},
		{"a parent is refused", "..", false},
		{"a space is refused", "a b", false},
		{"a slash is refused", "a/b", false},
		{"a backslash is refused", `a\b`, false},
		{"a colon is refused", "a:b", false},
		{"a NUL byte is refused", "a\x00", false},
		{"non-ASCII letters are refused", "名前", false},
		{"invalid UTF-8 is refused", "a\xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckName("session", tt.s)
			if tt.ok {
				checkErr(t, err, "")
				return
			}
			// The message says which name of what was refused.
			checkErr(t, err, fmt.Sprintf("session name %q", tt.s))
		})
	}
}

// FuzzCheckPath checks that every accepted path is clean and relative, and
// that every refusal is a *PathError naming the path.
func FuzzCheckPath(f *testing.F) {
	for _, tt := range checkPathTests {
		f.Add(tt.path)
	}
	f.Fuzz(func(t *testing.T, p string) {
		err := CheckPath(p)
		if err != nil {
			checkPathErr(t, err, p)
			return
		}
		switch {
		case p == "" || len(p) > MaxPathLen:
			t.Fatalf("accepted %q of %d bytes", p, len(p))
		case !utf8.ValidString(p):
			t.Fatalf("accepted invalid UTF-8 %q", p)
		case strings.ContainsAny(p, "\\\x00"):
			t.Fatalf("accepted %q with a backslash or NUL", p)
		case p[0] == '/' || path.IsAbs(p):
			t.Fatalf("accepted absolute %q", p)
		case path.Clean(p) != p:
			t.Fatalf("accepted %q, which cleans to %q", p, path.Clean(p))
		}
		for elem := range strings.SplitSeq(p, "/") {
			if elem == "" || elem == "." || elem == ".." {
				t.Fatalf("accepted %q with element %q", p, elem)
			}
		}
		// Parent and Base of an accepted path are accepted too, and
		// put back together they make the path again.
		parent, base := Parent(p), Base(p)
		if err := CheckPath(base); err != nil {
			t.Fatalf("Base(%q): %v", p, err)
		}
		if parent == "" {
			if base != p {
				t.Fatalf("Parent(%q) is empty but Base is %q", p, base)
			}
			return
		}
		if err := CheckPath(parent); err != nil {
			t.Fatalf("Parent(%q): %v", p, err)
		}
		if parent+"/"+base != p {
			t.Fatalf("Parent %q and Base %q of %q do not join to it", parent, base, p)
		}
	})
}

func TestMoved(t *testing.T) {
	for _, tc := range []struct {
		p, from, to, want string
		ok                bool
	}{
		{"a/b", "a", "c", "c/b", true},
		{"a", "a", "c", "c", true},
		{"ab/c", "a", "x", "", false},
		{"x/a/b", "a", "c", "", false},
		{"a/b/c", "a/b", "d", "d/c", true},
	} {
		got, ok := Moved(tc.p, tc.from, tc.to)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Moved(%q, %q, %q) = %q, %v; want %q, %v", tc.p, tc.from, tc.to, got, ok, tc.want, tc.ok)
		}
	}
}
