package wire

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxPathLen bounds a relative path on the wire. Linux's PATH_MAX is 4096;
// nothing longer can be created below a root anyway.
const MaxPathLen = 4096

// PathError reports a path that is not a clean relative watch-set path.
type PathError struct {
	Path   string
	Reason string
}

func (e *PathError) Error() string {
	return fmt.Sprintf("invalid path %q: %s", e.Path, e.Reason)
}

// CheckPath reports whether p is a path the watch set may contain: relative,
// slash-separated, clean, valid UTF-8, with no "..", no leading or trailing
// slash, no empty element, no NUL and no backslash. "." stands for the root
// itself and is refused: no message ever names the root.
func CheckPath(p string) error {
	bad := func(reason string) error { return &PathError{Path: p, Reason: reason} }
	switch {
	case p == "":
		return bad("empty")
	case len(p) > MaxPathLen:
		return bad(fmt.Sprintf("longer than %d bytes", MaxPathLen))
	case !utf8.ValidString(p):
		return bad("not valid UTF-8")
	case strings.IndexByte(p, 0) >= 0:
		return bad("contains NUL")
	case strings.IndexByte(p, '\\') >= 0:
		return bad("contains a backslash")
	case p[0] == '/':
		return bad("absolute")
	}
	for elem := range strings.SplitSeq(p, "/") {
		switch elem {
		case "":
			return bad("empty element (double or trailing slash)")
		case ".":
			return bad(`contains a "." element`)
		case "..":
			return bad(`contains a ".." element`)
		}
	}
	return nil
}

// Parent returns the parent directory of a checked path, or "" for a path
// directly below the root.
func Parent(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// Join returns the path of name in the folder dir ("" for the root).
func Join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// Base returns the last element of a checked path.
func Base(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

// Moved is p after a rename of from to to, if p is from or below it.
func Moved(p, from, to string) (string, bool) {
	if p == from {
		return to, true
	}
	if rest, ok := strings.CutPrefix(p, from+"/"); ok {
		return to + "/" + rest, true
	}
	return "", false
}
