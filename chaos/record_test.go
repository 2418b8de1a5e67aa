package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestRequired(t *testing.T) {
	type ev struct {
		kind             eventKind
		host, path, hash string
	}
	for _, c := range []struct {
		name   string
		events []ev
		want   []string // path=hash of the required versions
	}{
		{"the last write of a path is required", []ev{{version, "a", "f", "1"}, {version, "b", "f", "2"}}, []string{"f=2"}},
		{"a delete supersedes what was written before", []ev{{version, "a", "f", "1"}, {touch, "b", "f", ""}}, nil},
		{"a write after a delete is required", []ev{{touch, "b", "f", ""}, {version, "a", "f", "1"}}, []string{"f=1"}},
		{"a folder's delete supersedes what it held", []ev{{version, "a", "d/f", "1"}, {touch, "b", "d", ""}}, nil},
		{"a path made under a file supersedes it", []ev{{version, "a", "d", "1"}, {touch, "b", "d/x", ""}}, nil},
		{"a sibling does not supersede", []ev{{version, "a", "d/f", "1"}, {touch, "b", "d/g", ""}, {touch, "b", "df", ""}}, []string{"d/f=1"}},
		{"an emptied root supersedes its own host's versions", []ev{{version, "a", "f", "1"}, {version, "b", "g", "2"}, {empty, "a", "", ""}}, []string{"g=2"}},
		{"a version written after the emptying is required", []ev{{empty, "a", "", ""}, {version, "a", "f", "1"}}, []string{"f=1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var h History
			for i, e := range c.events {
				h.events = append(h.events, event{kind: e.kind, step: i, host: e.host, path: e.path, hash: e.hash})
			}
			var got []string
			for _, v := range h.Required() {
				got = append(got, v.Path+"="+v.Hash)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("required %v, want %v", got, c.want)
			}
		})
	}
}

func TestLost(t *testing.T) {
	file := func(hash string) Entry { return Entry{Mode: 0o644, Hash: hash} }
	v := []Version{{Step: 3, Host: "a", Path: "f", Hash: "h1"}}
	for _, c := range []struct {
		name string
		o    Observed
		lost bool
	}{
		{"on every host", Observed{Trees: map[string]map[string]Entry{"a": {"f": file("h1")}, "b": {"f": file("h1")}}}, false},
		{"missing on one host", Observed{Trees: map[string]map[string]Entry{"a": {"f": file("h1")}, "b": {}}}, true},
		{"replaced everywhere by another content", Observed{Trees: map[string]map[string]Entry{"a": {"f": file("h2")}, "b": {"f": file("h2")}}}, true},
		{"kept in a protected area", Observed{Trees: map[string]map[string]Entry{"a": {"f": file("h2")}, "b": {"f": file("h2")}}, Protected: map[string]bool{"h1": true}}, false},
		{"in the conflict list, on one host", Observed{Trees: map[string]map[string]Entry{"a": {"f": file("h2")}, "b": {"f": file("h1")}}, Conflicts: []string{"f"}}, false},
		{"in the conflict list, on no host", Observed{Trees: map[string]map[string]Entry{"a": {"f": file("h2")}, "b": {}}, Conflicts: []string{"f"}}, true},
		{"a folder where the file was", Observed{Trees: map[string]map[string]Entry{"a": {"f": {Dir: true}}, "b": {"f": {Dir: true}}}}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Lost(v, c.o)
			if (len(got) > 0) != c.lost {
				t.Fatalf("lost %v, want lost=%v", got, c.lost)
			}
			if c.lost && !strings.Contains(got[0], "step 3") {
				t.Fatalf("%q does not name the step", got[0])
			}
		})
	}
}

// A version written in a folder another host had just renamed is carried
// along when the rename reaches its host: it is kept if every host holds
// it at the one place the renames before it lead to (make chaos, seed
// 8022).
func TestLostFollowsEarlierRenames(t *testing.T) {
	var h History
	h.Moved(0, "b", "a", "old") // long before: no longer on its way
	h.Moved(3, "b", "a", "e")
	h.Moved(4, "a", "a", "own") // on the writer's own host: done before it wrote
	h.Moved(5, "c", "e/c", "x")
	h.Version(6, "a", "a/c/f", "h1")
	h.Moved(7, "b", "other", "elsewhere")
	req := h.Required()
	if len(req) != 1 || !reflect.DeepEqual(req[0].Moved, []string{"e/c/f", "x/f"}) {
		t.Fatalf("required %+v, want a/c/f also at e/c/f and x/f", req)
	}
	file := func(hash string) Entry { return Entry{Mode: 0o644, Hash: hash} }
	for _, c := range []struct {
		name string
		o    Observed
		lost bool
	}{
		{"carried along everywhere", Observed{Trees: map[string]map[string]Entry{"a": {"e/c/f": file("h1")}, "b": {"e/c/f": file("h1")}}}, false},
		{"carried twice everywhere", Observed{Trees: map[string]map[string]Entry{"a": {"x/f": file("h1")}, "b": {"x/f": file("h1")}}}, false},
		{"carried along on one host only", Observed{Trees: map[string]map[string]Entry{"a": {"e/c/f": file("h1")}, "b": {}}}, true},
		{"in two places, neither everywhere", Observed{Trees: map[string]map[string]Entry{"a": {"e/c/f": file("h1")}, "b": {"a/c/f": file("h1")}}}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Lost(req, c.o); (len(got) > 0) != c.lost {
				t.Fatalf("lost %v, want lost=%v", got, c.lost)
			}
		})
	}
}
