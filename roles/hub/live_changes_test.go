package hub

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/wire"
)

// How the live loop turns one host's batch of changes into each target's
// ops: every change is judged against what the batch's earlier changes
// leave at its path, so that a host reporting a change twice (its live
// path and a rescan both saw a file of a burst) or a file twice in one
// batch never makes a target refuse the hub's own copy as a concurrent
// edit (issue 17), and a path removed and made again is made again.

func file(path string, v int) wire.Entry {
	return wire.Entry{Path: path, Kind: wire.KindFile, Size: int64(10 + v), Mtime: int64(1000 + v), Mode: 0o644, Hash: wire.Hash{byte(v)}}
}

func folder(path string) wire.Entry {
	return wire.Entry{Path: path, Kind: wire.KindDir, Mtime: 5, Mode: 0o755}
}

// opString is an op as the table writes it: kind path [old] [want vN]
// [have vN|none], the versions by the entries' sizes.
func opString(op wire.Op) string {
	s := op.Kind.String() + " " + op.Path
	if op.OldPath != "" {
		s += " from " + op.OldPath
	}
	if op.Kind == wire.OpFetch || op.Kind == wire.OpMeta {
		s += fmt.Sprintf(" want v%d", op.Want.Size-10)
	}
	switch {
	case op.Have == nil:
		s += " have none"
	case op.Have.Kind == wire.KindDir:
		s += " have dir"
	default:
		s += fmt.Sprintf(" have v%d", op.Have.Size-10)
	}
	return s
}

func TestDecideJudgesEachChangeAfterTheBatchsEarlierOnes(t *testing.T) {
	const host = "site-a"
	targets := []string{"site-b", "site-c"}
	all := []string{"site-a", "site-b", "site-c"}
	meta := file("f", 1)
	meta.Mode = 0o600
	meta.Size = 12 // v2's size: same content, new mode
	for _, tc := range []struct {
		name  string
		index []conflict.Record
		batch []wire.Change
		want  []string // each target's ops
	}{{
		name:  "a new file reported twice is created once",
		batch: []wire.Change{{Kind: wire.ChangeWrite, Path: "f", Entry: file("f", 1)}, {Kind: wire.ChangeWrite, Path: "f", Entry: file("f", 1)}},
		want:  []string{"fetch f want v1 have none"},
	}, {
		name:  "two versions of a new file in one batch are one create of the last",
		batch: []wire.Change{{Kind: wire.ChangeWrite, Path: "f", Entry: file("f", 1)}, {Kind: wire.ChangeWrite, Path: "f", Entry: file("f", 2)}},
		want:  []string{"fetch f want v2 have none"},
	}, {
		name:  "a new file and its mode change are one create",
		batch: []wire.Change{{Kind: wire.ChangeWrite, Path: "f", Entry: file("f", 1)}, {Kind: wire.ChangeMeta, Path: "f", Entry: meta}},
		want:  []string{"fetch f want v2 have none"},
	}, {
		name:  "a file written twice is fetched once, over the copy the index knows",
		index: []conflict.Record{{Entry: file("f", 0), Hosts: all}},
		batch: []wire.Change{{Kind: wire.ChangeWrite, Path: "f", Entry: file("f", 1)}, {Kind: wire.ChangeWrite, Path: "f", Entry: file("f", 2)}},
		want:  []string{"fetch f want v2 have v0"},
	}, {
		name:  "what the index holds is an echo",
		index: []conflict.Record{{Entry: file("f", 0), Hosts: all}},
		batch: []wire.Change{{Kind: wire.ChangeWrite, Path: "f", Entry: file("f", 0)}},
	}, {
		name:  "a new file removed in the same batch is created, then removed",
		batch: []wire.Change{{Kind: wire.ChangeWrite, Path: "f", Entry: file("f", 1)}, {Kind: wire.ChangeRemove, Path: "f"}},
		want:  []string{"fetch f want v1 have none", "delete f have v1"},
	}, {
		name:  "a file removed and made again as it was is made again",
		index: []conflict.Record{{Entry: file("f", 0), Hosts: all}},
		batch: []wire.Change{{Kind: wire.ChangeRemove, Path: "f"}, {Kind: wire.ChangeWrite, Path: "f", Entry: file("f", 0)}},
		want:  []string{"delete f have v0", "fetch f want v0 have none"},
	}, {
		name:  "a removal reported twice is one removal",
		index: []conflict.Record{{Entry: file("f", 0), Hosts: all}},
		batch: []wire.Change{{Kind: wire.ChangeRemove, Path: "f"}, {Kind: wire.ChangeRemove, Path: "f"}},
		want:  []string{"delete f have v0"},
	}, {
		name:  "a new folder renamed in the same batch is made, then renamed",
		batch: []wire.Change{{Kind: wire.ChangeMkdir, Path: "d", Entry: folder("d")}, {Kind: wire.ChangeRename, Path: "e", OldPath: "d", Entry: folder("e")}},
		want:  []string{"mkdir d have none", "rename e from d have dir"},
	}, {
		name: "a file made again where its folder was renamed away is made again",
		batch: []wire.Change{{Kind: wire.ChangeMkdir, Path: "d", Entry: folder("d")}, {Kind: wire.ChangeWrite, Path: "d/f", Entry: file("d/f", 1)},
			{Kind: wire.ChangeRename, Path: "e", OldPath: "d", Entry: folder("e")}, {Kind: wire.ChangeWrite, Path: "d/f", Entry: file("d/f", 1)}},
		want: []string{"mkdir d have none", "fetch d/f want v1 have none", "rename e from d have dir", "fetch d/f want v1 have none"},
	}} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			r := graceRun(t, 0)
			if err := r.h.db.PutIndex(r.cfg.Name, tc.index); err != nil {
				t.Fatal(err)
			}
			_, ops := r.decide(host, targets, tc.batch)
			for _, target := range targets {
				var got []string
				for _, op := range ops[target] {
					got = append(got, opString(op))
				}
				if !slices.Equal(got, tc.want) {
					t.Errorf("%s: ops\n%s\nwant\n%s", target, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
				}
			}
		})
	}
}
