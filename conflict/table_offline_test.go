package conflict

import "testing"

var abc = []string{"a", "b", "c"}

// synced is a record of e held by a, b and c.
func synced(e ...Record) []Record { return e }

func TestResolveOfflineVersionConflicts(t *testing.T) {
	v1 := F("x", "v1", 10)
	qoc := Options{QuarantineOfflineConflicts: true}
	runTable(t, []tcase{{
		name:  "a file changed offline on two hosts is quarantined as an offline version conflict",
		hosts: abc, opt: qoc,
		scans: scans{"a": {F("x", "v2", 20)}, "b": {F("x", "v3", 30)}, "c": {v1}},
		last:  synced(R(v1, abc...)),
		quar:  []string{"x offline-version-conflict"},
	}, {
		name:  "without the option the same offline edits are resolved by the later time",
		hosts: abc,
		scans: scans{"a": {F("x", "v2", 20)}, "b": {F("x", "v3", 30)}, "c": {v1}},
		last:  synced(R(v1, abc...)),
		ops:   ops{"a": "fetch x <- b", "c": "fetch x <- b"},
	}, {
		name:  "the same offline change on two hosts is no conflict",
		hosts: abc, opt: qoc,
		scans: scans{"a": {F("x", "v2", 20)}, "b": {F("x", "v2", 25)}, "c": {v1}},
		last:  synced(R(v1, abc...)),
		ops:   ops{"a": "meta x", "c": "fetch x <- b"},
	}, {
		name:  "a touch on one host and an edit on another are two offline changes",
		hosts: abc, opt: qoc,
		scans: scans{"a": {F("x", "v1", 15)}, "b": {F("x", "v2", 12)}, "c": {v1}},
		last:  synced(R(v1, abc...)),
		quar:  []string{"x offline-version-conflict"},
	}, {
		name:  "with truncate-ms a copy still in the recorded second is unchanged",
		hosts: abc, opt: Options{QuarantineOfflineConflicts: true, TruncateMs: true},
		scans: scans{"a": {F("x", "v1", 10.5)}, "b": {F("x", "v2", 12)}, "c": {v1}},
		last:  synced(R(v1, abc...)),
		ops:   ops{"a": "fetch x <- b", "c": "fetch x <- b"},
	}, {
		name:  "an offline change on one host only is settled by the resolver",
		hosts: abc, opt: qoc,
		scans: scans{"a": {F("x", "v2", 20)}, "b": {v1}, "c": {v1}},
		last:  synced(R(v1, abc...)),
		ops:   ops{"b": "fetch x <- a", "c": "fetch x <- a"},
	}, {
		name:  "offline version conflicts are quarantined under manual resolution too, with their own reason",
		hosts: abc, opt: Options{Resolver: Manual, QuarantineOfflineConflicts: true},
		scans: scans{"a": {F("x", "v2", 20)}, "b": {F("x", "v3", 30)}, "c": {v1}},
		last:  synced(R(v1, abc...)),
		quar:  []string{"x offline-version-conflict"},
	}, {
		name:  "two different new files without a record are no offline conflict",
		opt:   qoc,
		scans: scans{"a": {F("x", "v2", 20)}, "b": {F("x", "v3", 30)}},
		last:  synced(R(F("y", "y", 1))),
		ops:   ops{"a": "fetch x <- b"},
	}, {
		name:  "a host the record does not list holds a new copy, not an offline change",
		hosts: abc, opt: qoc,
		scans: scans{"a": {F("x", "v2", 20)}, "b": {v1}, "c": {F("x", "v3", 30)}},
		last:  synced(R(v1, "a", "b")),
		ops:   ops{"a": "fetch x <- c", "b": "fetch x <- c"},
	}})
}

func TestResolveOfflineDeletes(t *testing.T) {
	x := F("x", "v1", 10)
	del := Options{OfflineDeleteDetection: true}
	delQ := Options{OfflineDeleteDetection: true, QuarantineOfflineConflicts: true}
	d, df, dg := D("d"), F("d/f", "f1", 10), F("d/g", "g1", 10)
	dTree := synced(R(d, abc...), R(df, abc...), R(dg, abc...))
	runTable(t, []tcase{{
		name:  "without offline delete detection a file deleted offline is brought back",
		hosts: abc,
		scans: scans{"b": {x}, "c": {x}},
		last:  synced(R(x, abc...)),
		ops:   ops{"a": "fetch x <- b"},
	}, {
		name:  "with offline delete detection a file deleted offline and unchanged elsewhere is deleted everywhere",
		hosts: abc, opt: del,
		scans: scans{"b": {x}, "c": {x}},
		last:  synced(R(x, abc...)),
		ops:   ops{"b": "delete x", "c": "delete x"},
		holders: map[string][]string{
			"x": nil,
		},
	}, {
		name:  "a file deleted offline on two hosts and unchanged on the third is deleted",
		hosts: abc, opt: del,
		scans: scans{"c": {x}},
		last:  synced(R(x, abc...)),
		ops:   ops{"c": "delete x"},
	}, {
		name:  "a mode change alone does not save a file deleted elsewhere",
		hosts: abc, opt: del,
		scans: scans{"b": {mode(x, 0o600)}, "c": {x}},
		last:  synced(R(x, abc...)),
		ops:   ops{"b": "delete x", "c": "delete x"},
	}, {
		name:  "a host the record does not list lacks the file but did not delete it",
		hosts: abc, opt: del,
		scans: scans{"a": {x}, "b": {x}},
		last:  synced(R(x, "a", "b")),
		ops:   ops{"c": "fetch x <- a"},
	}, {
		name:  "a file renamed on one host and edited on another keeps the edit and the new name",
		opt:   del,
		scans: scans{"a": {F("y", "v1", 10)}, "b": {F("x", "v2", 20)}},
		last:  synced(R(x, "a", "b")),
		ops:   ops{"a": "fetch x <- b", "b": "fetch y <- a"},
	}, {
		name:  "a folder deleted offline is deleted with one op per host",
		hosts: abc, opt: del,
		scans: scans{"b": {d, df, dg}, "c": {d, df, dg}},
		last:  dTree,
		ops:   ops{"b": "delete d", "c": "delete d"},
	}, {
		name:  "a file deleted on one host and edited on another comes back with the edit",
		hosts: abc, opt: del,
		scans: scans{"b": {F("x", "v2", 20)}, "c": {x}},
		last:  synced(R(x, abc...)),
		ops:   ops{"a": "fetch x <- b", "c": "fetch x <- b"},
	}, {
		name:  "a file deleted on one host and edited on another is quarantined as delete-edit when offline conflicts are quarantined",
		hosts: abc, opt: delQ,
		scans: scans{"b": {F("x", "v2", 20)}, "c": {x}},
		last:  synced(R(x, abc...)),
		quar:  []string{"x delete-edit-conflict"},
	}, {
		name:  "a folder deleted on one host while a file in it was edited on another keeps the edit and its folder",
		hosts: abc, opt: del,
		scans: scans{"b": {d, F("d/f", "f2", 20), dg}, "c": {d, df, dg}},
		last:  dTree,
		ops: ops{
			"a": "mkdir d; fetch d/f <- b",
			"b": "delete d/g",
			"c": "fetch d/f <- b; delete d/g",
		},
		holders: map[string][]string{"d": {"b", "c"}, "d/f": {"b"}, "d/g": nil},
	}, {
		name:  "with delete-edit quarantine the edited file is quarantined and its folder kept",
		hosts: abc, opt: delQ,
		scans: scans{"b": {d, F("d/f", "f2", 20), dg}, "c": {d, df, dg}},
		last:  dTree,
		ops:   ops{"a": "mkdir d", "b": "delete d/g", "c": "delete d/g"},
		quar:  []string{"d/f delete-edit-conflict"},
	}, {
		name:  "a new file created in a folder deleted elsewhere keeps the folder",
		hosts: abc, opt: del,
		scans: scans{"b": {d, df, dg, F("d/new", "n", 30)}, "c": {d, df, dg}},
		last:  dTree,
		ops: ops{
			"a": "mkdir d; fetch d/new <- b",
			"b": "delete d/g; delete d/f",
			"c": "fetch d/new <- b; delete d/g; delete d/f",
		},
	}, {
		name:  "deletions run children before parents and after everything else",
		hosts: abc, opt: del,
		scans: scans{
			"a": {D("k"), F("k/new", "n", 1)},
			"b": {d, D("d/e"), F("d/e/f", "f", 1), D("k")},
			"c": {d, D("d/e"), F("d/e/f", "f", 1), D("k"), F("k/z", "z", 1)},
		},
		last: synced(R(d, abc...), R(D("d/e"), abc...), R(F("d/e/f", "f", 1), abc...), R(D("k"), abc...), R(F("k/z", "z", 1), "a", "c")),
		ops: ops{
			"b": "fetch k/new <- a; delete d",
			"c": "fetch k/new <- a; delete k/z; delete d",
		},
	}})
}

func TestResolveDeleteMaster(t *testing.T) {
	x := F("x", "v1", 10)
	master := func(h string) Options { return Options{OfflineDeleteDetection: true, DeleteMaster: h} }
	d, df := D("d"), F("d/f", "f1", 10)
	runTable(t, []tcase{{
		name:  "with a delete master a deletion on another host is brought back",
		hosts: abc, opt: master("a"),
		scans: scans{"a": {x}, "c": {x}},
		last:  synced(R(x, abc...)),
		ops:   ops{"b": "fetch x <- a"},
	}, {
		name:  "a deletion on the delete master is propagated",
		hosts: abc, opt: master("a"),
		scans: scans{"b": {x}, "c": {x}},
		last:  synced(R(x, abc...)),
		ops:   ops{"b": "delete x", "c": "delete x"},
	}, {
		name:  "a deletion on the delete master wins over offline edits regardless of modification times",
		hosts: abc, opt: Options{OfflineDeleteDetection: true, DeleteMaster: "a", QuarantineOfflineConflicts: true},
		scans: scans{"b": {F("x", "v2", 20)}, "c": {F("x", "v3", 30)}},
		last:  synced(R(x, abc...)),
		ops:   ops{"b": "delete x", "c": "delete x"},
	}, {
		name:  "a path the master did not hold at the last run is copied to it, not deleted",
		hosts: abc, opt: master("a"),
		scans: scans{"b": {x}, "c": {x}},
		last:  synced(R(x, "b", "c")),
		ops:   ops{"a": "fetch x <- b"},
	}, {
		name:  "a folder deleted on the master keeps the new files created in it elsewhere",
		hosts: abc, opt: master("a"),
		scans: scans{"b": {d, df, F("d/new", "n", 30)}, "c": {d, df}},
		last:  synced(R(d, abc...), R(df, abc...)),
		ops: ops{
			"a": "mkdir d; fetch d/new <- b",
			"b": "delete d/f",
			"c": "fetch d/new <- b; delete d/f",
		},
	}, {
		name:  "a delete master that is not a participant propagates no deletion",
		hosts: abc, opt: master("z"),
		scans: scans{"b": {x}, "c": {x}},
		last:  synced(R(x, abc...)),
		ops:   ops{"a": "fetch x <- b"},
		warn:  "not a participant",
	}, {
		name:  "a delete master without offline delete detection has no effect",
		hosts: abc, opt: Options{DeleteMaster: "a"},
		scans: scans{"b": {x}, "c": {x}},
		last:  synced(R(x, abc...)),
		ops:   ops{"a": "fetch x <- b"},
		warn:  "no effect",
	}})
}

func TestResolveQuarantinedInput(t *testing.T) {
	del := Options{OfflineDeleteDetection: true}
	runTable(t, []tcase{{
		name:        "a path already quarantined is left alone and not reported again",
		scans:       scans{"a": {F("q", "one", 1)}, "b": {F("q", "two", 2)}},
		quarantined: []string{"q"},
	}, {
		name:        "everything below a quarantined folder is left alone",
		scans:       scans{"a": {D("q"), F("q/x", "one", 1)}, "b": {F("y", "y", 1)}},
		quarantined: []string{"q"},
		ops:         ops{"a": "fetch y <- b"},
	}, {
		name:        "a quarantined file keeps the folder it is in from being deleted",
		hosts:       abc,
		opt:         del,
		scans:       scans{"b": {D("d"), F("d/q", "q", 1)}, "c": {D("d"), F("d/q", "q", 1)}},
		last:        synced(R(D("d"), abc...)),
		quarantined: []string{"d/q"},
		ops:         ops{"a": "mkdir d"},
	}, {
		name:        "with delete-quarantined a quarantined path no host holds any more is released",
		opt:         Options{DeleteQuarantined: true},
		scans:       scans{"a": {F("q2", "2", 1)}, "b": {F("q2", "3", 1)}},
		quarantined: []string{"q", "q2"},
		released:    []string{"q"},
	}, {
		name:        "without delete-quarantined a quarantined path no host holds stays quarantined",
		scans:       scans{},
		quarantined: []string{"q"},
	}})
}

// A held path (Input.Held: one a live host lags on, in a catch-up) is left
// alone itself, but a held folder does not hide what is below it, as a
// quarantined one does.
func TestResolveHeldInput(t *testing.T) {
	d, dx := D("d"), F("d/x", "x", 1)
	runTable(t, []tcase{{
		name:  "a held file is left alone and not quarantined",
		scans: scans{"a": {F("q", "one", 1)}, "b": {F("q", "two", 2)}},
		held:  []string{"q"},
	}, {
		name:    "a held folder gets no op, and what is below it is decided as usual",
		hosts:   abc,
		scans:   scans{"a": {d, dx, F("d/new", "n", 2)}, "b": {mode(d, 0o700), dx}, "c": {d, dx, D("d/e"), F("d/e/mine", "m", 3)}},
		last:    synced(R(d, abc...), R(dx, abc...)),
		held:    []string{"d"},
		ops:     ops{"a": "mkdir d/e; fetch d/e/mine <- c", "b": "mkdir d/e; fetch d/e/mine <- c; fetch d/new <- a", "c": "fetch d/new <- a"},
		holders: map[string][]string{"d": nil, "d/x": {"a", "b", "c"}, "d/new": {"a"}, "d/e/mine": {"c"}},
	}, {
		name:  "a held folder keeps the folder above it from being deleted",
		hosts: abc,
		opt:   Options{OfflineDeleteDetection: true},
		scans: scans{"b": {D("p"), D("p/d"), F("p/d/x", "x", 1)}, "c": {D("p"), D("p/d"), F("p/d/x", "x", 1)}},
		last:  synced(R(D("p"), abc...), R(D("p/d"), abc...), R(F("p/d/x", "x", 1), abc...)),
		held:  []string{"p/d"},
		ops:   ops{"a": "mkdir p", "b": "delete p/d/x", "c": "delete p/d/x"},
	}, {
		name:  "a held path keeps an offline rename through it from being detected",
		hosts: abc,
		opt:   Options{OfflineRenameDetection: true},
		scans: scans{"a": moved("d", "e", d, dx), "b": {d, dx}, "c": {d, dx}},
		last:  synced(R(d, abc...), R(dx, abc...)),
		held:  []string{"d/x"},
		ops: ops{
			"a": "mkdir d",
			"b": "mkdir e; fetch e/x <- a",
			"c": "mkdir e; fetch e/x <- a",
		},
	}})
}
