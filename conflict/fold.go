package conflict

import (
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// foldName appends to dst the key under which two names count as the same
// name on a case-insensitive or normalising file system (NTFS, APFS, HFS+,
// SMB shares): every rune is replaced by its canonical decomposition (NFD,
// from the table in foldtable.go, Hangul syllables computed), each run of
// combining marks is sorted, and every rune is case folded (simple
// folding). Names with equal keys must never overwrite each other.
//
// Sorting a run of marks by code point equates a little more than NFD's
// canonical ordering does (two marks of the same combining class in
// different orders): such names are visually identical anyway, so treating
// them as a clash only errs towards caution.
func foldName(dst []byte, name string) []byte {
	ascii := true
	for i := 0; i < len(name); i++ {
		if name[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		for i := 0; i < len(name); i++ {
			c := name[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
		}
		return dst
	}
	var marks [16]rune
	run := marks[:0]
	flush := func() {
		sortRunes(run)
		for _, m := range run {
			dst = utf8.AppendRune(dst, m)
		}
		run = run[:0]
	}
	add := func(r rune) {
		r = foldRune(r)
		if unicode.Is(unicode.Mn, r) {
			run = append(run, r)
			return
		}
		flush()
		dst = utf8.AppendRune(dst, r)
	}
	var buf [3]rune
	for _, r := range name {
		if d, ok := decompose(r, &buf); ok {
			for _, x := range d {
				add(x)
			}
		} else {
			add(r)
		}
	}
	flush()
	return dst
}

// foldRune maps r to the smallest rune of its simple case folding orbit,
// so that every case variant of a letter maps to the same rune.
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	low := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		low = min(low, f)
	}
	return low
}

func sortRunes(s []rune) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// Hangul syllables decompose arithmetically (Unicode §3.12).
const (
	hangulBase  = 0xAC00
	hangulCount = 11172
	jamoL       = 0x1100
	jamoV       = 0x1161
	jamoT       = 0x11A7
	jamoVCount  = 21
	jamoTCount  = 28
)

var (
	decompOnce sync.Once
	decompMap  map[rune][]rune
)

// decompose returns the canonical decomposition of r, or false when r is
// its own decomposition. A Hangul syllable is decomposed into buf.
func decompose(r rune, buf *[3]rune) ([]rune, bool) {
	if s := r - hangulBase; s >= 0 && s < hangulCount {
		buf[0] = jamoL + s/(jamoVCount*jamoTCount)
		buf[1] = jamoV + (s%(jamoVCount*jamoTCount))/jamoTCount
		buf[2] = jamoT + s%jamoTCount
		if buf[2] == jamoT {
			return buf[:2], true
		}
		return buf[:], true
	}
	if r < 0xC0 {
		return nil, false
	}
	decompOnce.Do(loadDecompositions)
	d, ok := decompMap[r]
	return d, ok
}

func loadDecompositions() {
	decompMap = make(map[rune][]rune, 2100)
	for e := range strings.FieldsSeq(decompositions) {
		cp, seq, _ := strings.Cut(e, "=")
		var d []rune
		for x := range strings.SplitSeq(seq, ".") {
			d = append(d, hexRune(x))
		}
		decompMap[hexRune(cp)] = d
	}
}

func hexRune(s string) rune {
	n, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		panic("conflict: bad decomposition table entry " + s)
	}
	return rune(n)
}

// FoldKey returns the key under which two names count as the same name on
// a case-insensitive or normalising file system: names with equal keys
// clash (see foldName). The live path checks a new name with it, as the
// engine does at a start.
func FoldKey(name string) string { return string(foldName(nil, name)) }
