package conflict

import (
	"cmp"
	"strings"

	"github.com/peerlink/peerlink/wire"
)

// comparePaths orders paths as a depth-first walk of the tree: a folder comes
// right before everything below it, and everything below it comes before
// its next sibling. It is byte order with '/' sorting before every other
// byte, which is safe because a checked path holds no NUL.
func comparePaths(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i+16 <= n && a[i:i+16] == b[i:i+16] { // paths share long prefixes
		i += 16
	}
	return pathOrderFrom(a, b, i)
}

// ComparePathBytes is ComparePaths of string(a) and b, without the
// conversion's copy: for a reader that decodes paths into a buffer and
// looks for each among strings it already holds.
func ComparePathBytes(a []byte, b string) int { return pathOrderFrom(a, b, 0) }

// pathOrderFrom is comparePaths' order of a and b, whose first i bytes
// are the same.
func pathOrderFrom[A ~string | ~[]byte](a A, b string, i int) int {
	n := min(len(a), len(b))
	for i < n && a[i] == b[i] {
		i++
	}
	if i == n {
		return cmp.Compare(len(a), len(b))
	}
	switch {
	case a[i] == '/':
		return -1
	case b[i] == '/':
		return 1
	case a[i] < b[i]:
		return -1
	}
	return 1
}

// isAncestor reports whether dir is a proper ancestor of p.
func isAncestor(dir, p string) bool {
	return len(p) > len(dir) && p[len(dir)] == '/' && strings.HasPrefix(p, dir)
}

const second = int64(1e9)

// wholeSeconds is the seed's "Truncate milliseconds" option: a Unix
// nanosecond time floored to the whole second at or before it (so the
// millisecond and finer parts are dropped, also before 1970).
func wholeSeconds(ns int64) int64 {
	s := ns / second
	if ns%second < 0 {
		s--
	}
	return s * second
}

// sameContent is wire.Entry.SameContent without copying the entries.
func sameContent(a, b *wire.Entry) bool {
	if a == b {
		return true
	}
	return a.Kind == b.Kind && (a.Kind == wire.KindDir || a.Size == b.Size && a.Hash == b.Hash)
}
