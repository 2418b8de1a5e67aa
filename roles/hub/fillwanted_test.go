package hub

import (
	"testing"

	"github.com/peerlink/peerlink/wire"
)

func TestFillWanted(t *testing.T) {
	file := func(p string, size int64) wire.Entry {
		return wire.Entry{Path: p, Kind: wire.KindFile, Size: size, Mtime: 1, Mode: 0o644}
	}
	ops := []wire.Op{
		{Kind: wire.OpFetch, Path: "a", Want: file("a", 1)},
		{Kind: wire.OpMkdir, Path: "d", Want: wire.Entry{Path: "d", Kind: wire.KindDir}},
		{Kind: wire.OpFetch, Path: "b", Want: file("b", 2)},
		{Kind: wire.OpFetch, Path: "b", Want: file("b", 3)},
		{Kind: wire.OpDelete, Path: "gone"},
	}
	results := []wire.OpResult{
		{Kind: wire.OpFetch, Path: "a"},
		{Kind: wire.OpMkdir, Path: "d"},
		{Kind: wire.OpFetch, Path: "b", Entry: file("b", 2)},
		{Kind: wire.OpFetch, Path: "b"},
		{Kind: wire.OpDelete, Path: "gone"},
		{Kind: wire.OpFetch, Path: "failed", Error: &wire.Error{Kind: wire.KindChanged}},
	}
	fillWanted(results, ops)
	want := []wire.Entry{file("a", 1), {Path: "d", Kind: wire.KindDir}, file("b", 2), file("b", 3), {}, {}}
	for i, res := range results {
		if res.Entry != want[i] {
			t.Errorf("result %d (%s %s): entry %+v, want %+v", i, res.Kind, res.Path, res.Entry, want[i])
		}
	}
}
