//go:build linux

package main

import (
	"reflect"
	"testing"
)

func TestDiffering(t *testing.T) {
	hosts := []string{"a", "b"}
	f := func(mode uint32, hash string) Entry { return Entry{Mode: mode, Hash: hash} }
	for _, c := range []struct {
		name string
		a, b map[string]Entry
		cf   []string
		want []string
	}{
		{"same trees", map[string]Entry{"d": {Dir: true, Mode: 0o755}, "d/f": f(0o644, "h")}, map[string]Entry{"d": {Dir: true, Mode: 0o755}, "d/f": f(0o644, "h")}, nil, nil},
		{"missing", map[string]Entry{"f": f(0o644, "h")}, map[string]Entry{}, nil, []string{"f: a=file(0644,h) b=absent"}},
		{"content", map[string]Entry{"f": f(0o644, "h")}, map[string]Entry{"f": f(0o644, "i")}, nil, []string{"f: a=file(0644,h) b=file(0644,i)"}},
		{"mode", map[string]Entry{"f": f(0o644, "h")}, map[string]Entry{"f": f(0o600, "h")}, nil, []string{"f: a=file(0644,h) b=file(0600,h)"}},
		{"kind", map[string]Entry{"f": f(0o755, "")}, map[string]Entry{"f": {Dir: true, Mode: 0o755}}, nil, []string{"f: a=file(0755,) b=dir(0755)"}},
		{"conflicted folder and what it holds", map[string]Entry{"d": f(0o644, "h")}, map[string]Entry{"d": {Dir: true}, "d/x": f(0o644, "i")}, []string{"d"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := differing(Observed{Trees: map[string]map[string]Entry{"a": c.a, "b": c.b}, Conflicts: c.cf}, hosts)
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestLeftovers(t *testing.T) {
	tree := map[string]Entry{
		"ok.txt":                  {Mode: 0o644, Hash: "h"},
		"d/.peerlink-tmp-123":     {Mode: 0o600, Hash: "h"},
		"d/~$report.docx":         {Mode: 0o644, Hash: "h"},
		"locked.txt":              {Mode: 0o444, Hash: "h"},
		"immutable.txt":           {Mode: 0o644, Hash: "h", Flags: flagImmutable},
		"d":                       {Dir: true, Mode: 0o555},
		"d/.goutputstream-7":      {Mode: 0o644, Hash: "h"},
		"d/.~lock.plan.odt#":      {Mode: 0o644, Hash: "h"},
		"readonly-but-named-fine": {Mode: 0o400, Hash: "h"},
	}
	got := leftovers(Observed{Trees: map[string]map[string]Entry{"a": tree}}, []string{"a"})
	want := []string{
		"d/.goutputstream-7 on a: editor temp file left",
		"d/.peerlink-tmp-123 on a: temp file left",
		"d/.~lock.plan.odt# on a: application lock file left",
		"d/~$report.docx on a: application lock file left",
		"immutable.txt on a: left with inode flags 0x10",
		"locked.txt on a: left read-only (0444)",
		"readonly-but-named-fine on a: left read-only (0400)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}
