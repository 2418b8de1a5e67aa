package conflict

import (
	"strings"
	"testing"
)

func TestFoldNameEquatesCaseAndNormalisationForms(t *testing.T) {
	for _, tc := range []struct{ name, a, b string }{
		{"ASCII case", "Readme.TXT", "readme.txt"},
		{"NFC and NFD of e acute", "caf\u00e9", "cafe\u0301"},
		{"NFC and NFD in different case", "CAF\u00c9", "cafe\u0301"},
		{"two-level decomposition", "\u01fa", "A\u030a\u0301"},
		{"Japanese voiced kana as macOS writes it", "\u304c", "\u304b\u3099"},
		{"Hangul syllable and its jamo", "\ud55c", "\u1112\u1161\u11ab"},
		{"Hangul syllable without final consonant", "\uac00", "\u1100\u1161"},
		{"Kelvin sign and k", "\u212a", "k"},
		{"Angstrom sign and a ring", "\u212b", "\u00e5"},
		{"Greek final sigma", "\u03a3\u039f\u03a6\u039f\u03a3", "\u03c3\u03bf\u03c6\u03bf\u03c2"},
		{"combining marks in either order", "e\u0323\u0301", "e\u0301\u0323"},
		{"precomposed plus a further mark", "\u00e9\u0323", "e\u0323\u0301"},
		{"Cyrillic case", "\u0424\u0430\u0439\u043b", "\u0444\u0430\u0439\u043b"},
	} {
		if ka, kb := string(foldName(nil, tc.a)), string(foldName(nil, tc.b)); ka != kb {
			t.Errorf("%s: %q and %q fold to %q and %q", tc.name, tc.a, tc.b, ka, kb)
		}
	}
}

func TestFoldNameKeepsDifferentNamesApart(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"resume", "r\u00e9sum\u00e9"},
		{"a", "b"},
		{"e\u0301", "e\u0300"},
		{"file1", "file01"},
		// Simple case folding, as NTFS's upcase table: ß is not "ss".
		{"stra\u00dfe", "strasse"},
	} {
		if ka, kb := string(foldName(nil, tc.a)), string(foldName(nil, tc.b)); ka == kb {
			t.Errorf("%q and %q both fold to %q", tc.a, tc.b, ka)
		}
	}
}

func TestDecompositionTableIsWellFormed(t *testing.T) {
	loadDecompositions()
	if n := len(decompMap); n < 2000 {
		t.Fatalf("decomposition table has %d entries, want the full Unicode set (> 2000)", n)
	}
	for r, d := range decompMap {
		if len(d) == 0 || len(d) == 1 && d[0] == r {
			t.Errorf("U+%04X decomposes to itself", r)
		}
		for _, x := range d {
			if _, again := decompMap[x]; again {
				t.Errorf("U+%04X decomposes to U+%04X, which decomposes further: the table must hold full decompositions", r, x)
			}
		}
	}
	if !strings.HasPrefix(decompositions, "c0=41.300 ") {
		t.Errorf("table should start with U+00C0")
	}
}
