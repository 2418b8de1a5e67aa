package conflict

import (
	"maps"
	"slices"
	"testing"

	"github.com/peerlink/peerlink/wire"
)

func TestAwayDeletes(t *testing.T) {
	f := func(p string, v byte) wire.Entry {
		return wire.Entry{Path: p, Kind: wire.KindFile, Size: 1, Mtime: 1e18 + int64(v), Mode: 0o644, Hash: wire.Hash{v}}
	}
	d := func(p string) wire.Entry { return wire.Entry{Path: p, Kind: wire.KindDir, Mode: 0o755} }
	tests := []struct {
		name    string
		scan    []wire.Entry
		deleted []wire.Entry
		ops     []string
		settled []string
	}{
		{name: "an unchanged file deleted elsewhere is deleted",
			scan: []wire.Entry{f("a", 1)}, deleted: []wire.Entry{f("a", 1)}, ops: []string{"a"}, settled: []string{"a"}},
		{name: "a file changed on the host is left to the engine",
			scan: []wire.Entry{f("a", 2)}, deleted: []wire.Entry{f("a", 1)}},
		{name: "a file the host deleted too needs nothing",
			deleted: []wire.Entry{f("a", 1)}},
		{name: "an unchanged folder goes with one op",
			scan:    []wire.Entry{d("dir"), f("dir/x", 1), d("dir/sub"), f("dir/sub/y", 2)},
			deleted: []wire.Entry{d("dir"), f("dir/x", 1), d("dir/sub"), f("dir/sub/y", 2)},
			ops:     []string{"dir"}, settled: []string{"dir", "dir/sub", "dir/sub/y", "dir/x"}},
		{name: "a folder holding a new file stays, its unchanged files go",
			scan:    []wire.Entry{d("dir"), f("dir/x", 1), d("dir/sub"), f("dir/sub/new", 3)},
			deleted: []wire.Entry{d("dir"), f("dir/x", 1), d("dir/sub")},
			ops:     []string{"dir/x"}, settled: []string{"dir/x"}},
		{name: "a folder holding an edited file stays",
			scan:    []wire.Entry{d("dir"), f("dir/x", 9)},
			deleted: []wire.Entry{d("dir"), f("dir/x", 1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			del := map[string]wire.Entry{}
			for _, e := range tt.deleted {
				del[e.Path] = e
			}
			ops, settled := AwayDeletes(tt.scan, del, Options{})
			var got []string
			for _, op := range ops {
				if op.Kind != wire.OpDelete || op.Have == nil || op.Have.Path != op.Path {
					t.Errorf("op %+v: want a delete with Have", op)
				}
				got = append(got, op.Path)
			}
			if !slices.Equal(got, tt.ops) {
				t.Errorf("ops = %v, want %v", got, tt.ops)
			}
			if s := slices.Sorted(maps.Keys(settled)); !slices.Equal(s, tt.settled) {
				t.Errorf("settled = %v, want %v", s, tt.settled)
			}
		})
	}
}
