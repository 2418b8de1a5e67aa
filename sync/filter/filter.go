package filter

import (
	"fmt"
	"path"
	"strings"
)

// Default is the global filter every session starts from; the agent adds a
// session's --exclude patterns to it. Each pattern names what produces it.
//
// "*.tmp" is deliberately absent: the suffix is a naming habit, not a promise
// that the file is transient, and some programs (and people) keep real data
// in .tmp files. An exclusion silently leaves a file unsynchronised, which is
// worse than copying a short-lived file once, so only the office temp files
// whose whole name shape is known ("~*.tmp") are excluded; an administrator
// who wants all of them adds --exclude '*.tmp'. For the same reason Excel's
// save temp file (eight random characters, no extension) is not filtered:
// its name cannot be told from a user's file.
var Default = []string{
	".peerlink-tmp-*",  // peerlink: a transfer's temp file before its rename (sync/tree)
	"/.peerlink",       // peerlink: the protected area at the root of a watch set
	".~lock.*#",        // LibreOffice/OpenOffice: lock file beside an open document
	"~$*",              // Microsoft Office: owner (lock) file beside an open document
	"~*.tmp",           // Microsoft Office: ~WRL0001.tmp, ~WRD0000.tmp written while saving
	".*.sw?",           // vim: swap files .name.swp, .name.swo ...
	"4913",             // vim: probe file created to test that a folder is writable
	".#*",              // emacs: lock link .#name
	"#*#",              // emacs: auto-save file #name#
	"*~",               // emacs, gedit, nano, kate...: backup copy name~
	".goutputstream-*", // gedit and other GIO programs: safe-save temp file
	".DS_Store",        // macOS Finder: folder view settings
	"Thumbs.db",        // Windows Explorer: thumbnail cache
	"desktop.ini",      // Windows Explorer: folder customisation
}

// Filter decides which paths are excluded. The zero value and nil exclude
// nothing.
type Filter struct {
	elem  []pattern // patterns without '/': match any one element
	paths []pattern // patterns with '/': match from the root
}

type pattern struct {
	elems   []elemMatcher
	dirOnly bool
	fixed   int // number of elements when there is no "**", else 0
}

// New compiles the patterns. It does not add Default: callers that want it
// pass append(filter.Default, extra...).
func New(exclude []string) (*Filter, error) {
	f := &Filter{}
	for _, src := range exclude {
		p, anchored, err := compile(src)
		if err != nil {
			return nil, fmt.Errorf("exclude pattern %q: %w", src, err)
		}
		if anchored {
			f.paths = append(f.paths, p)
		} else {
			f.elem = append(f.elem, p)
		}
	}
	return f, nil
}

func compile(src string) (p pattern, anchored bool, err error) {
	s := src
	if strings.HasSuffix(s, "/") {
		p.dirOnly = true
		s = s[:len(s)-1]
	}
	if strings.HasPrefix(s, "/") {
		anchored = true
		s = s[1:]
	}
	if s == "" {
		return p, false, fmt.Errorf("empty pattern")
	}
	anchored = anchored || strings.Contains(s, "/")
	for e := range strings.SplitSeq(s, "/") {
		switch e {
		case "":
			return p, false, fmt.Errorf("empty element (double slash)")
		case ".", "..":
			return p, false, fmt.Errorf("%q element: patterns match clean paths", e)
		}
		m, err := compileElem(e)
		if err != nil {
			return p, false, err
		}
		// "**/**" means the same as "**"; collapsing keeps matching linear.
		if m.kind == anyElems && len(p.elems) > 0 && p.elems[len(p.elems)-1].kind == anyElems {
			continue
		}
		p.elems = append(p.elems, m)
	}
	p.fixed = len(p.elems)
	for _, m := range p.elems {
		if m.kind == anyElems {
			p.fixed = 0
		}
	}
	return p, anchored, nil
}

// Excluded reports whether path, a clean relative slash path naming a folder
// when dir is set, is excluded: it, or a folder above it, matches a pattern.
// The root itself ("") is never excluded.
func (f *Filter) Excluded(p string, dir bool) bool {
	if f == nil || p == "" {
		return false
	}
	if len(f.elem) > 0 {
		for start := 0; ; {
			i := strings.IndexByte(p[start:], '/')
			last := i < 0
			e := p[start:]
			if !last {
				e = p[start : start+i]
			}
			isDir := dir || !last
			for k := range f.elem {
				pt := &f.elem[k]
				if (isDir || !pt.dirOnly) && pt.elems[0].match(e) {
					return true
				}
			}
			if last {
				break
			}
			start += i + 1
		}
	}
	for k := range f.paths {
		if f.paths[k].matchPrefix(p, dir) {
			return true
		}
	}
	return false
}

// matchPrefix reports whether the pattern matches p or one of the folders
// above it.
func (pt *pattern) matchPrefix(p string, dir bool) bool {
	ok := func(end int) bool {
		whole := end == len(p)
		return (!whole || dir || !pt.dirOnly) && pt.matchWhole(p[:end])
	}
	if pt.fixed > 0 {
		// Without "**" only the prefix with exactly as many elements can match.
		end, n := 0, 0
		for end < len(p) {
			i := strings.IndexByte(p[end:], '/')
			if i < 0 {
				end = len(p)
			} else {
				end += i
			}
			if n++; n == pt.fixed {
				return ok(end)
			}
			end++
		}
		return false
	}
	for end := 0; end < len(p); end++ {
		if p[end] == '/' && ok(end) {
			return true
		}
	}
	return ok(len(p))
}

// matchWhole matches every element of the non-empty path s. It is the
// classic wildcard algorithm with "**" as the star and elements as the
// characters: on a mismatch the last "**" absorbs one more element, which
// is enough for correctness and keeps the cost at O(len(pattern)·len(s)).
func (pt *pattern) matchWhole(s string) bool {
	next := func(pos int) (elem string, after int) {
		i := strings.IndexByte(s[pos:], '/')
		if i < 0 {
			return s[pos:], len(s) + 1
		}
		return s[pos : pos+i], pos + i + 1
	}
	pi, pos := 0, 0 // pos > len(s) once every element is consumed
	starPi, starPos := -1, 0
	for {
		if pi < len(pt.elems) && pt.elems[pi].kind == anyElems {
			starPi, starPos = pi, pos
			pi++
			continue
		}
		if pos <= len(s) {
			if pi < len(pt.elems) {
				e, after := next(pos)
				if pt.elems[pi].match(e) {
					pi, pos = pi+1, after
					continue
				}
			}
		} else if pi == len(pt.elems) {
			return true
		}
		if starPi < 0 || starPos > len(s) {
			return false
		}
		_, starPos = next(starPos)
		pi, pos = starPi+1, starPos
	}
}

type elemKind uint8

const (
	exact    elemKind = iota // no metacharacter
	affix                    // one '*' and nothing else special: prefix*suffix
	glob                     // anything else: path.Match
	anyElems                 // "**"
)

// elemMatcher matches one path element. Most real patterns are a literal
// or a single '*' with a literal prefix or suffix; those skip path.Match,
// which is what keeps the default list cheap on a million-path scan.
type elemMatcher struct {
	kind   elemKind
	a, b   string // exact: a; affix: prefix a, suffix b; glob: pattern a, literal start b
	minLen int
}

func compileElem(e string) (elemMatcher, error) {
	if e == "**" {
		return elemMatcher{kind: anyElems}, nil
	}
	if _, err := path.Match(e, ""); err != nil {
		return elemMatcher{}, fmt.Errorf("element %q: %w", e, err)
	}
	switch {
	case !strings.ContainsAny(e, `*?[\`):
		return elemMatcher{kind: exact, a: e}, nil
	case strings.Count(e, "*") == 1 && !strings.ContainsAny(e, `?[\`):
		i := strings.IndexByte(e, '*')
		return elemMatcher{kind: affix, a: e[:i], b: e[i+1:], minLen: len(e) - 1}, nil
	}
	// A glob's literal start ("." in ".*.sw?") rejects most names before
	// path.Match runs.
	lit := e[:strings.IndexAny(e, `*?[\`)]
	return elemMatcher{kind: glob, a: e, b: lit}, nil
}

func (m *elemMatcher) match(e string) bool {
	switch m.kind {
	case exact:
		return e == m.a
	case affix:
		return len(e) >= m.minLen && strings.HasPrefix(e, m.a) && strings.HasSuffix(e, m.b)
	case glob:
		if !strings.HasPrefix(e, m.b) {
			return false
		}
		ok, _ := path.Match(m.a, e)
		return ok
	}
	return true // anyElems
}
