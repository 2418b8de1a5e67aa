package conflict

import "testing"

// Found by TestResolveClockSkewProperties's seed: the winning content was
// judged by the time of its first holder, not of its latest copy.
func TestResolveLatestCopyOfAContentSpeaksForIt(t *testing.T) {
	abc := []string{"a", "b", "c"}
	old := F("x", "old", 2)
	runTable(t, []tcase{{
		name:  "a touched copy makes its content the latest against an edit in between",
		hosts: abc,
		scans: scans{"a": {old}, "b": {dmtime(old, 5)}, "c": {F("x", "new", 4)}},
		last:  []Record{R(old, "a", "b", "c")},
		ops:   ops{"a": "meta x", "c": "fetch x <- b"},
	}, {
		name:  "and the edit still wins when it is later than every copy of the other content",
		hosts: abc,
		scans: scans{"a": {old}, "b": {dmtime(old, 3)}, "c": {F("x", "new", 4)}},
		last:  []Record{R(old, "a", "b", "c")},
		ops:   ops{"a": "fetch x <- c", "b": "fetch x <- c"},
	}})
}
