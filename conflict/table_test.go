package conflict

import (
	"reflect"
	"testing"

	"github.com/peerlink/peerlink/wire"
)

func equalPlans(a, b Plan) bool { return reflect.DeepEqual(a, b) }

type scans = map[string][]wire.Entry

type ops = map[string]string

func TestResolveMergesAndLastModifiedWins(t *testing.T) {
	abc := []string{"a", "b", "c"}
	runTable(t, []tcase{{
		name:  "identical trees need nothing",
		scans: scans{"a": {D("d"), F("d/x", "1", 1)}, "b": {D("d"), F("d/x", "1", 1)}},
		holders: map[string][]string{
			"d": {"a", "b"}, "d/x": {"a", "b"},
		},
	}, {
		name:  "disjoint trees merge into their union",
		scans: scans{"a": {F("x", "1", 1)}, "b": {D("d"), D("d/e"), F("d/e/z", "2", 1), F("y", "3", 1)}},
		ops: ops{
			"a": "mkdir d; mkdir d/e; fetch d/e/z <- b; fetch y <- b",
			"b": "fetch x <- a",
		},
		holders: map[string][]string{"x": {"a"}, "d/e/z": {"b"}},
	}, {
		name:  "a host with no scan is treated as empty and gets everything",
		hosts: abc,
		scans: scans{"a": {F("x", "1", 1)}, "b": {F("x", "1", 1)}},
		ops:   ops{"c": "fetch x <- a"},
	}, {
		name:  "zero-byte files and empty folders are copied too",
		scans: scans{"a": {D("e"), D("e/f"), F("zero", "", 1)}},
		ops:   ops{"b": "mkdir e; mkdir e/f; fetch zero <- a"},
	}, {
		name:  "the copy with the later modification time wins",
		scans: scans{"a": {F("x", "old", 10)}, "b": {F("x", "new", 20)}},
		ops:   ops{"a": "fetch x <- b"},
	}, {
		name:  "without truncate-ms the milliseconds decide",
		scans: scans{"a": {F("x", "one", 10.9)}, "b": {F("x", "two", 10.1)}},
		ops:   ops{"b": "fetch x <- a"},
	}, {
		name:  "with truncate-ms times in one second tie and the content on more hosts wins",
		hosts: abc,
		opt:   Options{TruncateMs: true},
		scans: scans{"a": {F("x", "one", 10.9)}, "b": {F("x", "two", 10.1)}, "c": {F("x", "two", 3)}},
		ops:   ops{"a": "fetch x <- b", "c": "meta x"},
	}, {
		name:  "with truncate-ms a tie on equal host counts goes to the host first in Input.Hosts",
		hosts: []string{"b", "a"},
		opt:   Options{TruncateMs: true},
		scans: scans{"a": {F("x", "one", 10.9)}, "b": {F("x", "two", 10.1)}},
		ops:   ops{"a": "fetch x <- b"},
	}, {
		name:  "truncate-ms floors to the second so 10.999 loses to 11.000",
		opt:   Options{TruncateMs: true},
		scans: scans{"a": {F("x", "one", 10.999)}, "b": {F("x", "two", 11)}},
		ops:   ops{"a": "fetch x <- b"},
	}, {
		name:  "truncate-ms floors times before 1970 too",
		opt:   Options{TruncateMs: true},
		scans: scans{"a": {nsTime(F("x", "one", 0), -200_000_000)}, "b": {nsTime(F("x", "two", 0), 100_000_000)}},
		ops:   ops{"a": "fetch x <- b"},
	}, {
		name:  "an exact tie on time and host count goes to the host first in Input.Hosts",
		scans: scans{"a": {F("x", "one", 10)}, "b": {F("x", "two", 10)}},
		ops:   ops{"b": "fetch x <- a"},
	}, {
		name:  "the content held by more hosts wins an exact tie even if its other copies are older",
		hosts: abc,
		scans: scans{"a": {F("x", "one", 10)}, "b": {F("x", "two", 10)}, "c": {F("x", "two", 5)}},
		ops:   ops{"a": "fetch x <- b", "c": "meta x"},
	}, {
		name:  "copies with the same content but different times are no conflict: meta to the later time",
		scans: scans{"a": {F("x", "same", 10)}, "b": {F("x", "same", 20)}},
		ops:   ops{"a": "meta x"},
		holders: map[string][]string{
			"x": {"b"},
		},
	}, {
		name:  "with truncate-ms copies in the same second need no meta",
		opt:   Options{TruncateMs: true},
		scans: scans{"a": {F("x", "same", 10.1)}, "b": {F("x", "same", 10.8)}},
		holders: map[string][]string{
			"x": {"a", "b"},
		},
	}, {
		name:  "copies differing only in mode take the mode changed since the record",
		scans: scans{"a": {F("x", "same", 10)}, "b": {mode(F("x", "same", 10), 0o600)}},
		last:  []Record{R(F("x", "same", 10), "a", "b")},
		ops:   ops{"a": "meta x"},
	}, {
		name:  "copies differing only in mode, without a record, take the mode most hosts have",
		hosts: abc,
		scans: scans{"a": {mode(F("x", "same", 10), 0o600)}, "b": {F("x", "same", 10)}, "c": {F("x", "same", 10)}},
		ops:   ops{"a": "meta x"},
	}, {
		name:  "the same new file created on two hosts with identical content is no conflict",
		hosts: abc,
		scans: scans{"a": {F("n", "same", 10)}, "b": {F("n", "same", 10)}},
		last:  []Record{R(F("other", "o", 1))},
		ops:   ops{"c": "fetch n <- a"},
	}, {
		name:  "folder modification times are not synchronised",
		scans: scans{"a": {dmtime(D("d"), 5)}, "b": {dmtime(D("d"), 50)}},
	}, {
		name:  "a folder whose mode was changed offline gets the new mode everywhere",
		scans: scans{"a": {D("d")}, "b": {mode(D("d"), 0o700)}},
		last:  []Record{R(D("d"), "a", "b")},
		ops:   ops{"a": "meta d"},
	}, {
		name:  "a missing folder is created with the winning mode and then gets its mode on the others",
		hosts: abc,
		scans: scans{"a": {mode(D("d"), 0o700)}, "b": {D("d")}},
		last:  []Record{R(D("d"), "a", "b")},
		ops:   ops{"b": "meta d", "c": "mkdir d"},
	}, {
		name:  "the winner is the fetch source and every op lists what the target holds",
		hosts: abc,
		scans: scans{"a": {F("x", "v1", 1)}, "b": {F("x", "v2", 2)}, "c": {F("x", "v2", 2)}},
		ops:   ops{"a": "fetch x <- b"},
	}})
}

func TestResolveManual(t *testing.T) {
	runTable(t, []tcase{{
		name:  "manual resolution quarantines copies whose contents differ and plans nothing for them",
		hosts: []string{"a", "b", "c"},
		opt:   Options{Resolver: Manual},
		scans: scans{"a": {F("x", "one", 10)}, "b": {F("x", "two", 20)}},
		quar:  []string{"x manual-resolution"},
	}, {
		name:  "manual resolution still copies what is missing and settles same-content copies",
		opt:   Options{Resolver: Manual},
		scans: scans{"a": {F("x", "same", 10), F("y", "only", 1)}, "b": {F("x", "same", 20)}},
		ops:   ops{"a": "meta x", "b": "fetch y <- a"},
	}, {
		name:  "an unknown resolver is treated as manual so nothing is overwritten",
		opt:   Options{Resolver: "newest-wins"},
		scans: scans{"a": {F("x", "one", 10)}, "b": {F("x", "two", 20)}},
		quar:  []string{"x manual-resolution"},
		warn:  "unknown resolver",
	}})
}
