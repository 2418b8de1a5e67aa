package wire

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Bounds of a session's definition that an Attach carries. The hub's API
// refuses a definition beyond them, and an agent an Attach: a pattern list
// long enough to slow every path's filtering, or a retention that
// overflows a time.Duration, is a mistake, never a wish.
const (
	// MaxExclude bounds a session's exclude patterns; each is tried on
	// every path of a scan and of every live change.
	MaxExclude = 1000
	// MaxPatternLen bounds one exclude pattern, in bytes.
	MaxPatternLen = 1024
	// MaxProtectDays bounds how long target protection keeps a copy: ten
	// years, far below the 106,751 days a time.Duration holds.
	MaxProtectDays = 3650
	// MaxRootLen bounds a root's path, in bytes: Linux's PATH_MAX.
	MaxRootLen = 4096
)

// CheckRoot reports whether root can name a session's root folder: at most
// MaxRootLen bytes of valid UTF-8 without NUL or any other control
// character (a newline pasted with the path, most often). Whether it is
// absolute is for the host's agent to judge, in its own file system's terms.
func CheckRoot(root string) error {
	switch {
	case root == "":
		return fmt.Errorf("root is empty: give the folder's absolute path")
	case len(root) > MaxRootLen:
		return fmt.Errorf("root %.64q...: longer than %d bytes", root, MaxRootLen)
	case !utf8.ValidString(root):
		return fmt.Errorf("root %q: not valid UTF-8; give the folder's path in UTF-8", root)
	}
	if i := strings.IndexFunc(root, isControl); i >= 0 {
		return fmt.Errorf("root %q: contains %s; a root is a folder's absolute path, without control characters", root, controlName(rune(root[i])))
	}
	return nil
}

// CheckPattern reports whether p can be an exclude pattern: 1 to
// MaxPatternLen bytes of valid UTF-8 without NUL, as no path holds
// anything else.
func CheckPattern(p string) error {
	switch {
	case p == "":
		return fmt.Errorf("exclude pattern is empty")
	case len(p) > MaxPatternLen:
		return fmt.Errorf("exclude pattern %.64q...: longer than %d bytes", p, MaxPatternLen)
	case !utf8.ValidString(p):
		return fmt.Errorf("exclude pattern %q: not valid UTF-8, so it matches no path", p)
	case strings.IndexByte(p, 0) >= 0:
		return fmt.Errorf("exclude pattern %q: contains NUL, so it matches no path", p)
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func controlName(r rune) string {
	switch r {
	case 0:
		return "NUL"
	case '\n':
		return "a newline"
	case '\r':
		return "a carriage return"
	case '\t':
		return "a tab"
	}
	return fmt.Sprintf("the control character %U", r)
}
