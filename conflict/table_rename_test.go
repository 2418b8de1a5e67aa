package conflict

import (
	"testing"

	"github.com/peerlink/peerlink/wire"
)

// moved rebases entries from one folder to another, keeping everything else.
func moved(from, to string, es ...wire.Entry) []wire.Entry {
	out := make([]wire.Entry, len(es))
	for i, e := range es {
		e.Path = to + e.Path[len(from):]
		out[i] = e
	}
	return out
}

func TestResolveOfflineRenames(t *testing.T) {
	d, df, dg := D("d"), F("d/f", "f1", 10), F("d/g", "g1", 10)
	old := []wire.Entry{d, df, dg}
	last := synced(R(d, abc...), R(df, abc...), R(dg, abc...))
	ren := Options{OfflineRenameDetection: true}
	renDel := Options{OfflineRenameDetection: true, OfflineDeleteDetection: true}
	runTable(t, []tcase{{
		name:  "a folder renamed offline is renamed on the other hosts instead of copied and resurrected",
		hosts: abc, opt: ren,
		scans: scans{"a": moved("d", "e", old...), "b": old, "c": old},
		last:  last,
		ops:   ops{"b": "rename d -> e", "c": "rename d -> e"},
		holders: map[string][]string{
			"e": {"a"}, "e/f": {"a"}, "d": nil, "d/f": nil,
		},
	}, {
		name:  "without rename detection the renamed folder is copied and the old one brought back",
		hosts: abc,
		scans: scans{"a": moved("d", "e", old...), "b": old, "c": old},
		last:  last,
		ops: ops{
			"a": "mkdir d; fetch d/f <- b; fetch d/g <- b",
			"b": "mkdir e; fetch e/f <- a; fetch e/g <- a",
			"c": "mkdir e; fetch e/f <- a; fetch e/g <- a",
		},
	}, {
		name:  "without rename detection but with delete detection the rename is a copy plus a deletion",
		hosts: abc, opt: Options{OfflineDeleteDetection: true},
		scans: scans{"a": moved("d", "e", old...), "b": old, "c": old},
		last:  last,
		ops: ops{
			"b": "mkdir e; fetch e/f <- a; fetch e/g <- a; delete d",
			"c": "mkdir e; fetch e/f <- a; fetch e/g <- a; delete d",
		},
	}, {
		name:  "a folder moved into another folder every host has is moved on the others",
		hosts: abc, opt: renDel,
		scans: scans{
			"a": append([]wire.Entry{D("p")}, moved("d", "p/d", old...)...),
			"b": append([]wire.Entry{D("p")}, old...),
			"c": append([]wire.Entry{D("p")}, old...),
		},
		last: append(synced(R(D("p"), abc...)), last...),
		ops:  ops{"b": "rename d -> p/d", "c": "rename d -> p/d"},
	}, {
		name:  "a renamed folder whose files' times changed is renamed, then its times are set",
		hosts: abc, opt: ren,
		scans: scans{"a": {D("e"), F("e/f", "f1", 50), F("e/g", "g1", 10)}, "b": old, "c": old},
		last:  last,
		ops:   ops{"b": "rename d -> e; meta e/f", "c": "rename d -> e; meta e/f"},
	}, {
		name:  "a rename on one host and an edit of a file in it on another is no rename and the edit survives",
		hosts: abc, opt: renDel,
		scans: scans{"a": moved("d", "e", old...), "b": {d, F("d/f", "f2", 20), dg}, "c": old},
		last:  last,
		ops: ops{
			"a": "mkdir d; fetch d/f <- b",
			"b": "mkdir e; fetch e/f <- a; fetch e/g <- a; delete d/g",
			"c": "mkdir e; fetch d/f <- b; fetch e/f <- a; fetch e/g <- a; delete d/g",
		},
	}, {
		name:  "a renamed folder whose content also changed is no rename",
		hosts: abc, opt: ren,
		scans: scans{"a": {D("e"), F("e/f", "f2", 20), F("e/g", "g1", 10)}, "b": old, "c": old},
		last:  last,
		ops: ops{
			"a": "mkdir d; fetch d/f <- b; fetch d/g <- b",
			"b": "mkdir e; fetch e/f <- a; fetch e/g <- a",
			"c": "mkdir e; fetch e/f <- a; fetch e/g <- a",
		},
	}, {
		name:  "two new folders with the renamed folder's content make the rename ambiguous",
		opt:   renDel,
		scans: scans{"a": append(moved("d", "e", old...), moved("d", "e2", old...)...), "b": old},
		last:  synced(R(d, "a", "b"), R(df, "a", "b"), R(dg, "a", "b")),
		ops: ops{
			"b": "mkdir e; mkdir e2; fetch e/f <- a; fetch e/g <- a; fetch e2/f <- a; fetch e2/g <- a; delete d",
		},
	}, {
		name:  "a rename into a folder that is new too is not detected",
		opt:   renDel,
		scans: scans{"a": append([]wire.Entry{D("n")}, moved("d", "n/d", old...)...), "b": old},
		last:  synced(R(d, "a", "b"), R(df, "a", "b"), R(dg, "a", "b")),
		ops:   ops{"b": "mkdir n; mkdir n/d; fetch n/d/f <- a; fetch n/d/g <- a; delete d"},
	}, {
		name:  "an empty folder renamed offline is not detected",
		opt:   renDel,
		scans: scans{"a": {D("e")}, "b": {d}},
		last:  synced(R(d, "a", "b")),
		ops:   ops{"b": "mkdir e; delete d"},
	}, {
		name:  "a folder renamed on two hosts is no rename",
		hosts: abc, opt: renDel,
		scans: scans{"a": moved("d", "e", old...), "b": moved("d", "e", old...), "c": old},
		last:  last,
		ops:   ops{"c": "mkdir e; fetch e/f <- a; fetch e/g <- a; delete d"},
	}, {
		name:  "a rename to a name that differs only in case from a folder elsewhere is not detected",
		opt:   renDel,
		scans: scans{"a": moved("d", "E", old...), "b": append(old, D("e"))},
		last:  synced(R(d, "a", "b"), R(df, "a", "b"), R(dg, "a", "b")),
		ops:   ops{"b": "delete d"},
		quar:  []string{"E name-clash", "e name-clash"},
		warn:  "differ only in case",
	}, {
		name:  "a folder whose copy on another host holds an extra file is no rename",
		opt:   ren,
		scans: scans{"a": moved("d", "e", old...), "b": append(old, F("d/extra", "x", 1))},
		last:  synced(R(d, "a", "b"), R(df, "a", "b"), R(dg, "a", "b")),
		ops: ops{
			"a": "mkdir d; fetch d/extra <- b; fetch d/f <- b; fetch d/g <- b",
			"b": "mkdir e; fetch e/f <- a; fetch e/g <- a",
		},
	}, {
		name:        "a folder with a quarantined file in it is not renamed",
		opt:         renDel,
		scans:       scans{"a": moved("d", "e", old...), "b": old},
		last:        synced(R(d, "a", "b"), R(df, "a", "b"), R(dg, "a", "b")),
		quarantined: []string{"d/g"},
		ops:         ops{"a": "mkdir d", "b": "mkdir e; fetch e/f <- a; fetch e/g <- a; delete d/f"},
	}})
}
