package conflict

import (
	"testing"
	"time"
)

func TestResolveClockSkew(t *testing.T) {
	ahead := map[string]Clock{"b": {Offset: 5 * time.Second}}
	base := F("x", "base", 1)
	last := []Record{R(base, "a", "b")}
	runTable(t, []tcase{{
		name:   "edits on two hosts closer than their skew are quarantined for clock skew",
		clocks: ahead,
		scans:  scans{"a": {F("x", "from a", 10)}, "b": {F("x", "from b", 12)}},
		last:   last,
		quar:   []string{"x clock-skew"},
	}, {
		name:   "the later edit wins as before when the times are farther apart than the skew",
		clocks: ahead,
		scans:  scans{"a": {F("x", "from a", 10)}, "b": {F("x", "from b", 3610)}},
		last:   last,
		ops:    ops{"a": "fetch x <- b"},
	}, {
		name:   "the earlier edit of a host whose clock is behind is no exception: farther than the skew, the later time wins",
		clocks: ahead,
		scans:  scans{"a": {F("x", "from a", 3610)}, "b": {F("x", "from b", 10)}},
		last:   last,
		ops:    ops{"b": "fetch x <- a"},
	}, {
		name:   "a time gap equal to the skew is decided",
		clocks: ahead,
		scans:  scans{"a": {F("x", "from a", 10)}, "b": {F("x", "from b", 15)}},
		last:   last,
		ops:    ops{"a": "fetch x <- b"},
	}, {
		name:   "two hosts whose clocks are off alike order their edits rightly",
		clocks: map[string]Clock{"a": {Offset: 5 * time.Second}, "b": {Offset: 5 * time.Second}},
		scans:  scans{"a": {F("x", "from a", 10)}, "b": {F("x", "from b", 12)}},
		last:   last,
		ops:    ops{"a": "fetch x <- b"},
	}, {
		name:   "clocks off in opposite directions add up",
		clocks: map[string]Clock{"a": {Offset: -2 * time.Second}, "b": {Offset: 2 * time.Second}},
		scans:  scans{"a": {F("x", "from a", 10)}, "b": {F("x", "from b", 13)}},
		last:   last,
		quar:   []string{"x clock-skew"},
	}, {
		name:   "the measurements' errors widen the skew",
		clocks: map[string]Clock{"a": {Error: 300 * time.Millisecond}, "b": {Error: 300 * time.Millisecond}},
		scans:  scans{"a": {F("x", "from a", 10)}, "b": {F("x", "from b", 10.5)}},
		last:   last,
		quar:   []string{"x clock-skew"},
	}, {
		name:   "with truncate-ms the exact times count against the skew",
		clocks: map[string]Clock{"b": {Offset: 500 * time.Millisecond}},
		opt:    Options{TruncateMs: true},
		scans:  scans{"a": {F("x", "from a", 10.1)}, "b": {F("x", "from b", 10.4)}},
		last:   last,
		quar:   []string{"x clock-skew"},
	}, {
		name:   "new copies at a first start are edits too",
		clocks: ahead,
		scans:  scans{"a": {F("x", "from a", 10)}, "b": {F("x", "from b", 11)}},
		quar:   []string{"x clock-skew"},
	}, {
		name:   "an edit against an unchanged copy is no clock question: the edit's host alone stamped a time",
		clocks: ahead,
		scans:  scans{"a": {F("x", "from a", 2)}, "b": {base}},
		last:   last,
		ops:    ops{"b": "fetch x <- a"},
	}, {
		name:   "the same new content on two hosts is no conflict",
		clocks: ahead,
		scans:  scans{"a": {F("x", "same", 10)}, "b": {F("x", "same", 11)}},
		last:   last,
		ops:    ops{"a": "meta x"},
	}, {
		name:   "two losing edits close in time are not decided between: a third, clearly later, wins",
		hosts:  []string{"a", "b", "c"},
		clocks: ahead,
		scans:  scans{"a": {F("x", "from a", 10)}, "b": {F("x", "from b", 11)}, "c": {F("x", "from c", 3610)}},
		last:   []Record{R(base, "a", "b", "c")},
		ops:    ops{"a": "fetch x <- c", "b": "fetch x <- c"},
	}, {
		name:   "quarantine offline conflicts keeps its own reason",
		clocks: ahead,
		opt:    Options{QuarantineOfflineConflicts: true},
		scans:  scans{"a": {F("x", "from a", 10)}, "b": {F("x", "from b", 12)}},
		last:   last,
		quar:   []string{"x offline-version-conflict"},
	}, {
		name:   "the manual resolver keeps its own reason",
		clocks: ahead,
		opt:    Options{Resolver: Manual},
		scans:  scans{"a": {F("x", "from a", 10)}, "b": {F("x", "from b", 12)}},
		last:   last,
		quar:   []string{"x manual-resolution"},
	}, {
		name:   "folders are not judged by time",
		clocks: ahead,
		scans:  scans{"a": {D("d")}, "b": {dmtime(D("d"), 2)}},
		last:   []Record{R(D("d"), "a", "b")},
	}, {
		name:   "a host not measured counts as exact",
		clocks: map[string]Clock{"z": {Offset: time.Hour}},
		scans:  scans{"a": {F("x", "from a", 10)}, "b": {F("x", "from b", 12)}},
		last:   last,
		ops:    ops{"a": "fetch x <- b"},
	}, {
		name:   "absurd clocks are bounded, not overflowed",
		clocks: map[string]Clock{"a": {Offset: -1 << 63}, "b": {Offset: 1<<63 - 1, Error: 1<<63 - 1}},
		scans:  scans{"a": {F("x", "from a", 10)}, "b": {F("x", "from b", 3610)}},
		last:   last,
		quar:   []string{"x clock-skew"},
	}})
}
