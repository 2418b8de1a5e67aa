package hub

import (
	"slices"
	"testing"

	"github.com/peerlink/peerlink/wire"
)

func TestSupersede(t *testing.T) {
	w := func(p string, size int64) wire.Change {
		return wire.Change{Kind: wire.ChangeWrite, Path: p, Entry: wire.Entry{Path: p, Kind: wire.KindFile, Size: size}}
	}
	meta := func(p string) wire.Change {
		return wire.Change{Kind: wire.ChangeMeta, Path: p, Entry: wire.Entry{Path: p, Kind: wire.KindFile}}
	}
	dir := func(p string) wire.Change {
		return wire.Change{Kind: wire.ChangeMkdir, Path: p, Entry: wire.Entry{Path: p, Kind: wire.KindDir}}
	}
	rm := func(p string) wire.Change { return wire.Change{Kind: wire.ChangeRemove, Path: p} }
	mv := func(from, to string) wire.Change {
		return wire.Change{Kind: wire.ChangeRename, OldPath: from, Path: to, Entry: wire.Entry{Path: to, Kind: wire.KindFile}}
	}
	for _, tc := range []struct {
		name     string
		in, want []wire.Change
	}{
		{"nothing to drop", []wire.Change{dir("d"), w("d/a", 1), w("d/b", 2)}, []wire.Change{dir("d"), w("d/a", 1), w("d/b", 2)}},
		{"the last write of a path", []wire.Change{w("a", 1), w("b", 1), w("a", 2), w("a", 3)}, []wire.Change{w("b", 1), w("a", 3)}},
		{"a write replaces a metadata change", []wire.Change{meta("a"), w("a", 2)}, []wire.Change{w("a", 2)}},
		{"a metadata change does not replace a write", []wire.Change{w("a", 1), meta("a")}, []wire.Change{w("a", 1), meta("a")}},
		{"through a metadata change", []wire.Change{w("a", 1), meta("a"), w("a", 3)}, []wire.Change{w("a", 3)}},
		{"not across a removal", []wire.Change{w("a", 1), rm("a"), w("a", 2)}, []wire.Change{w("a", 1), rm("a"), w("a", 2)}},
		{"not across a rename", []wire.Change{w("a", 1), mv("d", "e"), w("a", 2)}, []wire.Change{w("a", 1), mv("d", "e"), w("a", 2)}},
		{"a folder's changes stay", []wire.Change{dir("d"), {Kind: wire.ChangeMeta, Path: "d", Entry: wire.Entry{Path: "d", Kind: wire.KindDir}}}, []wire.Change{dir("d"), {Kind: wire.ChangeMeta, Path: "d", Entry: wire.Entry{Path: "d", Kind: wire.KindDir}}}},
	} {
		if got := supersede(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
