package conflict

import "testing"

// The seed's conflicts on files open for writing at a start or a return:
// an open copy is never replaced or removed.
func TestResolveOpenForWriting(t *testing.T) {
	base := F("x", "base", 1)
	last := []Record{R(base, "a", "b")}
	runTable(t, []tcase{{
		name:    "an open copy that loses to a newer one elsewhere is quarantined, not replaced",
		scans:   scans{"a": {F("x", "newer on a", 20)}, "b": {F("x", "older on b", 10)}},
		last:    last,
		writing: map[string][]string{"b": {"x"}},
		quar:    []string{"x open-for-writing"},
	}, {
		name:    "an unchanged open copy that an edit elsewhere would replace is quarantined too",
		scans:   scans{"a": {F("x", "edited on a", 20)}, "b": {base}},
		last:    last,
		writing: map[string][]string{"b": {"x"}},
		quar:    []string{"x open-for-writing"},
	}, {
		name:    "an open copy that wins goes out to the others as usual",
		scans:   scans{"a": {F("x", "older on a", 10)}, "b": {F("x", "newer on b", 20)}},
		last:    last,
		writing: map[string][]string{"b": {"x"}},
		ops:     ops{"a": "fetch x <- b"},
	}, {
		name:    "the same file open on two hosts is quarantined even with equal contents",
		scans:   scans{"a": {base}, "b": {base}},
		last:    last,
		writing: map[string][]string{"a": {"x"}, "b": {"x"}},
		quar:    []string{"x open-for-writing"},
	}, {
		name:    "an open copy that only gets a new time keeps its content and is not quarantined",
		scans:   scans{"a": {F("x", "same", 20)}, "b": {F("x", "same", 10)}},
		last:    last,
		writing: map[string][]string{"b": {"x"}},
		ops:     ops{"b": "meta x"},
	}, {
		name:    "an open copy deleted elsewhere with offline delete detection is quarantined, not deleted",
		opt:     Options{OfflineDeleteDetection: true},
		scans:   scans{"a": {}, "b": {base}},
		last:    last,
		writing: map[string][]string{"b": {"x"}},
		quar:    []string{"x open-for-writing"},
	}, {
		name:  "a folder deleted elsewhere is kept where a file in it is open",
		opt:   Options{OfflineDeleteDetection: true},
		scans: scans{"a": {}, "b": {D("d"), F("d/open", "o", 1), F("d/other", "p", 1)}},
		last: []Record{R(D("d"), "a", "b"), R(F("d/open", "o", 1), "a", "b"),
			R(F("d/other", "p", 1), "a", "b")},
		writing: map[string][]string{"b": {"d/open"}},
		ops:     ops{"a": "mkdir d", "b": "delete d/other"},
		quar:    []string{"d/open open-for-writing"},
	}, {
		name:    "a file open on the host that has the only copy is copied out as usual",
		scans:   scans{"a": {}, "b": {F("new", "only on b", 5)}},
		writing: map[string][]string{"b": {"new"}},
		ops:     ops{"a": "fetch new <- b"},
	}, {
		name:    "an open file the rules quarantine anyway keeps its own reason",
		opt:     Options{QuarantineOfflineConflicts: true},
		scans:   scans{"a": {F("x", "from a", 20)}, "b": {F("x", "from b", 10)}},
		last:    last,
		writing: map[string][]string{"b": {"x"}},
		quar:    []string{"x offline-version-conflict"},
	}, {
		name:    "a path named open that no scan lists changes nothing",
		scans:   scans{"a": {F("x", "newer on a", 20)}, "b": {base}},
		last:    last,
		writing: map[string][]string{"b": {"elsewhere"}},
		ops:     ops{"b": "fetch x <- a"},
	}})
}
