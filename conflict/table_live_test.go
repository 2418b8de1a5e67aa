package conflict

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/peerlink/peerlink/wire"
)

// The live engine's table: one host's batch, what the index and the hub's
// tables hold, and what each target gets. Versions of a file are told
// apart by their sizes: v1 is "1", v2 "22", v3 "333", and the ops are
// written "kind path [from old] [want vN] have vN|dir|none".

func v(path string, n int) wire.Entry { return F(path, strings.Repeat(string(rune('0'+n)), n), 1) }

func write(e wire.Entry) wire.Change {
	return wire.Change{Kind: wire.ChangeWrite, Path: e.Path, Entry: e}
}
func meta(e wire.Entry) wire.Change {
	return wire.Change{Kind: wire.ChangeMeta, Path: e.Path, Entry: e}
}
func mkdir(p string) wire.Change  { return wire.Change{Kind: wire.ChangeMkdir, Path: p, Entry: D(p)} }
func remove(p string) wire.Change { return wire.Change{Kind: wire.ChangeRemove, Path: p} }
func renamed(old string, e wire.Entry) wire.Change {
	return wire.Change{Kind: wire.ChangeRename, Path: e.Path, OldPath: old, Entry: e}
}

func liveOpString(op wire.Op) string {
	s := op.Kind.String() + " " + op.Path
	if op.OldPath != "" {
		s += " from " + op.OldPath
	}
	if op.Kind == wire.OpFetch || op.Kind == wire.OpMeta {
		s += fmt.Sprintf(" want v%d", op.Want.Size)
	}
	switch {
	case op.Kind == wire.OpMkdir:
	case op.Have == nil:
		s += " have none"
	case op.Have.Kind == wire.KindDir:
		s += " have dir"
	default:
		s += fmt.Sprintf(" have v%d", op.Have.Size)
	}
	return s
}

func refusalsString(rs []LiveRefusal) string {
	var s []string
	for _, r := range rs {
		s = append(s, string(r.Why)+" "+r.Change.Path)
	}
	return strings.Join(s, "; ")
}

// liveCase is one row: ops by target ("*" for every target without its
// own), "; " between ops; refused as refusalsString renders them.
type liveCase struct {
	name    string
	index   []Record
	folders map[string][]string
	quar    []string
	locks   map[string]string
	lagging map[string]map[string]*wire.Entry
	applied []wire.Entry
	unread  []string
	below   []Record // the index below the batch's removed folders
	batch   []wire.Change
	ops     map[string]string
	refused string
	quaran  string // the name clashes quarantined, "; " between paths
}

const liveHost = "a"

var liveTargets = []string{"b", "c"}

func (tc liveCase) input() LiveInput {
	in := LiveInput{Host: liveHost, Targets: liveTargets, Batch: tc.batch,
		Index: map[string]Record{}, Unread: map[string]bool{}, Folders: tc.folders,
		Quarantined: map[string]bool{}, Locks: tc.locks, Lagging: tc.lagging, Applied: map[wire.Entry]bool{}}
	for _, r := range tc.index {
		in.Index[r.Entry.Path] = r
	}
	for _, p := range tc.quar {
		in.Quarantined[p] = true
	}
	for _, p := range tc.unread {
		in.Unread[p] = true
	}
	for _, e := range tc.applied {
		in.Applied[e] = true
	}
	in.Below = map[string][]Record{}
	for _, dir := range LiveRemovedFolders(tc.batch, in.Index) {
		for _, r := range tc.below {
			if atOrBelow(r.Entry.Path, dir) && r.Entry.Path != dir {
				in.Below[dir] = append(in.Below[dir], r)
			}
		}
	}
	return in
}

func runLive(t *testing.T, cases []liveCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			p := Live(tc.input())
			for _, target := range liveTargets {
				want, ok := tc.ops[target]
				if !ok {
					want = tc.ops["*"]
				}
				var got []string
				for _, op := range p.Ops[target] {
					got = append(got, liveOpString(op))
				}
				if g := strings.Join(got, "; "); g != want {
					t.Errorf("%s: ops\n  %s\nwant\n  %s", target, g, want)
				}
			}
			if g := refusalsString(p.Refused); g != tc.refused {
				t.Errorf("refused\n  %s\nwant\n  %s", g, tc.refused)
			}
			var q []string
			for _, x := range p.Quarantines {
				q = append(q, x.Path)
				if x.Reason != ReasonNameClash || len(x.Copies) != 1 || x.Copies[0].Host != liveHost {
					t.Errorf("quarantine %+v: want a name clash with the source's copy", x)
				}
			}
			if g := strings.Join(q, "; "); g != tc.quaran {
				t.Errorf("quarantined\n  %s\nwant\n  %s", g, tc.quaran)
			}
			if tc.below == nil && !slices.Equal(changesOf(p.Done), acceptedOf(tc.batch, p.Refused)) {
				t.Errorf("done %v is not the batch less its refusals", changesOf(p.Done))
			}
		})
	}
}

func changesOf(done []LiveChange) []string {
	var s []string
	for _, a := range done {
		s = append(s, a.Change.Path)
	}
	return s
}

// acceptedOf returns the paths of batch's changes that were not refused,
// in order: refusals are matched in order too.
func acceptedOf(batch []wire.Change, refused []LiveRefusal) []string {
	var s []string
	for _, ch := range batch {
		if len(refused) > 0 && refused[0].Change == ch {
			refused = refused[1:]
			continue
		}
		s = append(s, ch.Path)
	}
	return s
}

func TestLiveEachKindOfChange(t *testing.T) {
	runLive(t, []liveCase{{
		name:  "a new file is fetched from the source everywhere",
		batch: []wire.Change{write(v("f", 1))},
		ops:   map[string]string{"*": "fetch f want v1 have none"},
	}, {
		name:  "a modified file is fetched over the copy the index lists",
		index: []Record{R(v("f", 1), abc...)},
		batch: []wire.Change{write(v("f", 2))},
		ops:   map[string]string{"*": "fetch f want v2 have v1"},
	}, {
		name:  "a target the index does not list gets the file as new",
		index: []Record{R(v("f", 1), "a", "b")},
		batch: []wire.Change{write(v("f", 2))},
		ops:   map[string]string{"b": "fetch f want v2 have v1", "c": "fetch f want v2 have none"},
	}, {
		name:  "a mode change is a meta op",
		index: []Record{R(v("f", 1), abc...)},
		batch: []wire.Change{meta(mode(v("f", 1), 0o600))},
		ops:   map[string]string{"*": "meta f want v1 have v1"},
	}, {
		name:  "a new folder is made",
		batch: []wire.Change{mkdir("d")},
		ops:   map[string]string{"*": "mkdir d"},
	}, {
		name:  "a removed file is deleted where the index lists it",
		index: []Record{R(v("f", 1), "a", "b")},
		batch: []wire.Change{remove("f")},
		ops:   map[string]string{"b": "delete f have v1", "c": ""},
	}, {
		name:  "a removed folder is one delete of the folder",
		index: []Record{R(D("d"), abc...), R(v("d/f", 1), abc...)},
		batch: []wire.Change{remove("d")},
		ops:   map[string]string{"*": "delete d have dir"},
	}, {
		name:  "a renamed folder is renamed",
		index: []Record{R(D("d"), abc...)},
		batch: []wire.Change{renamed("d", D("e"))},
		ops:   map[string]string{"*": "rename e from d have dir"},
	}, {
		name:  "a renamed file is renamed",
		index: []Record{R(v("f", 1), abc...)},
		batch: []wire.Change{renamed("f", v("g", 1))},
		ops:   map[string]string{"*": "rename g from f have v1"},
	}, {
		name:  "a rename of what a target lacks brings the new path whole",
		index: []Record{R(v("f", 1), "a", "b"), R(D("d"), "a", "c")},
		batch: []wire.Change{renamed("f", v("g", 1)), renamed("d", D("e"))},
		ops:   map[string]string{"b": "rename g from f have v1; mkdir e", "c": "fetch g want v1 have none; rename e from d have dir"},
	}, {
		name:  "a rename over a path renames: the target replaces what the new path held",
		index: []Record{R(v("f", 1), abc...), R(v("g", 2), abc...)},
		batch: []wire.Change{renamed("f", v("g", 1))},
		ops:   map[string]string{"*": "rename g from f have v1"},
	}})
}

func TestLiveSpecialCases(t *testing.T) {
	lag := map[string]map[string]*wire.Entry{"f": {"c": nil}}
	kept := v("f", 1)
	runLive(t, []liveCase{{
		name:    "a quarantined path is left alone, and what is below it",
		quar:    []string{"q"},
		batch:   []wire.Change{write(v("q", 1)), write(v("q/x", 1)), write(v("qq", 1))},
		ops:     map[string]string{"*": "fetch qq want v1 have none"},
		refused: "quarantined q; quarantined q/x",
	}, {
		name:    "a rename out of a quarantined folder is left alone",
		quar:    []string{"q"},
		index:   []Record{R(D("q"), abc...)},
		batch:   []wire.Change{renamed("q", D("r"))},
		refused: "quarantined r",
	}, {
		name:    "what the index holds is an echo, and so is the removal of what it lacks",
		index:   []Record{R(v("f", 1), abc...)},
		batch:   []wire.Change{write(v("f", 1)), remove("g")},
		refused: "echo f; echo g",
	}, {
		name:    "a version the hub had the source apply, reported late, is an echo",
		index:   []Record{R(v("f", 2), abc...)},
		applied: []wire.Entry{v("f", 1)},
		batch:   []wire.Change{write(v("f", 1))},
		refused: "applied f",
	}, {
		name:    "a change to a file another host holds open is a second writer's",
		index:   []Record{R(v("f", 1), abc...)},
		locks:   map[string]string{"f": "b", "g": liveHost},
		batch:   []wire.Change{write(v("f", 2)), write(v("g", 1))},
		ops:     map[string]string{"*": "fetch g want v1 have none"},
		refused: "second-writer f",
	}, {
		name:    "a change of a source whose own copy lags waits for the repair",
		index:   []Record{R(v("f", 1), abc...)},
		lagging: map[string]map[string]*wire.Entry{"f": {liveHost: &kept}},
		batch:   []wire.Change{write(v("f", 2))},
		refused: "lagging f",
	}, {
		name:    "a target that lags gets the op over what it kept",
		index:   []Record{R(v("f", 2), abc...)},
		lagging: lag,
		batch:   []wire.Change{write(v("f", 3))},
		ops:     map[string]string{"b": "fetch f want v3 have v2", "c": "fetch f want v3 have none"},
	}, {
		name:    "a path whose record could not be read is not judged against nothing",
		unread:  []string{"f"},
		batch:   []wire.Change{remove("f")},
		refused: "index-unread f",
	}, {
		name:    "a new name that differs from a sibling's only in case is quarantined, with later changes to it",
		folders: map[string][]string{"": {"readme"}},
		batch:   []wire.Change{write(v("README", 1)), write(v("README", 2)), mkdir("Readme.d"), write(v("Readme.d/x", 1))},
		ops:     map[string]string{"*": "mkdir Readme.d; fetch Readme.d/x want v1 have none"},
		refused: "name-clash README; quarantined README",
		quaran:  "README",
	}, {
		name:    "a rename that changes only the case of a name does not clash with it",
		index:   []Record{R(v("readme", 1), abc...)},
		folders: map[string][]string{"": {"readme"}},
		batch:   []wire.Change{renamed("readme", v("README", 1))},
		ops:     map[string]string{"*": "rename README from readme have v1"},
	}, {
		name:    "a name whose clashing sibling the batch removed first is no clash",
		index:   []Record{R(v("readme", 1), abc...)},
		folders: map[string][]string{"": {"readme"}},
		batch:   []wire.Change{remove("readme"), write(v("README", 1))},
		ops:     map[string]string{"*": "delete readme have v1; fetch README want v1 have none"},
	}, {
		name:    "two new names of one batch that clash: the second is quarantined",
		batch:   []wire.Change{write(v("x", 1)), write(v("X", 1))},
		ops:     map[string]string{"*": "fetch x want v1 have none"},
		refused: "name-clash X",
		quaran:  "X",
	}})
}

func TestLiveBatchIsJudgedChangeAfterChange(t *testing.T) {
	runLive(t, []liveCase{{
		name:    "a new file reported twice is created once",
		batch:   []wire.Change{write(v("f", 1)), write(v("f", 1))},
		ops:     map[string]string{"*": "fetch f want v1 have none"},
		refused: "merged f",
	}, {
		name:    "a new file and its later version are one create of the last",
		batch:   []wire.Change{write(v("f", 1)), write(v("f", 2)), meta(mode(v("f", 2), 0o600))},
		ops:     map[string]string{"*": "fetch f want v2 have none"},
		refused: "merged f; merged f",
	}, {
		name:  "a file removed and made again is made again",
		index: []Record{R(v("f", 1), abc...)},
		batch: []wire.Change{remove("f"), write(v("f", 1))},
		ops:   map[string]string{"*": "delete f have v1; fetch f want v1 have none"},
	}, {
		name:    "a removal reported twice is one removal",
		index:   []Record{R(v("f", 1), abc...)},
		batch:   []wire.Change{remove("f"), remove("f")},
		ops:     map[string]string{"*": "delete f have v1"},
		refused: "echo f",
	}, {
		name:  "a file below a folder renamed earlier in the batch is fetched over the moved copy",
		index: []Record{R(D("d"), abc...), R(v("d/f", 1), abc...)},
		batch: []wire.Change{renamed("d", D("e")), write(v("e/f", 2)), write(v("d/f", 3))},
		ops:   map[string]string{"*": "rename e from d have dir; fetch e/f want v2 have v1; fetch d/f want v3 have none"},
	}, {
		name:  "a new folder renamed in the same batch is made, then renamed",
		batch: []wire.Change{mkdir("d"), renamed("d", D("e"))},
		ops:   map[string]string{"*": "mkdir d; rename e from d have dir"},
	}})
}

func TestLiveFoldersAreThoseOfNewNames(t *testing.T) {
	index := map[string]Record{"big/f": R(v("big/f", 1), abc...), "old/g": R(v("old/g", 1), abc...), "keep/f": R(v("keep/f", 1), abc...)}
	batch := []wire.Change{write(v("keep/f", 2)), write(v("big/f", 2)), meta(v("big/h", 1)), remove("gone/x"),
		write(v("new/n", 1)), mkdir("new2"), renamed("old/g", v("moved/g", 1)), remove("big/f"), write(v("big/f", 3))}
	got := LiveFolders(batch, index)
	want := []string{"big", "new", "", "moved"}
	if !slices.Equal(got, want) {
		t.Fatalf("LiveFolders = %q, want %q", got, want)
	}
}

func TestLiveUpdate(t *testing.T) {
	prior := R(v("f", 1), "a", "b", "c", "d")
	for _, tc := range []struct {
		name    string
		c       LiveChange
		applied []string
		away    []string
		want    string
	}{{
		name: "a write is held by the source and the targets that applied it",
		c:    LiveChange{Change: write(v("f", 2)), Prior: prior, Had: true}, applied: []string{"b"},
		want: "put f v2 [a b]",
	}, {
		name: "a removal applied everywhere forgets the path",
		c:    LiveChange{Change: remove("f"), Prior: prior, Had: true}, applied: []string{"b", "c"}, away: []string{"d"},
		want: "forget f",
	}, {
		name: "a removal that failed on a target leaves that target listed",
		c:    LiveChange{Change: remove("f"), Prior: prior, Had: true}, applied: []string{"b"}, away: []string{"d"},
		want: "put f v1 [c]",
	}, {
		name: "a rename replaces the new path and moves the old one's records",
		c:    LiveChange{Change: renamed("f", v("g", 1)), Prior: prior, Had: true}, applied: []string{"b", "c"},
		want: "forget g; move f g; put g v1 [a b c]",
	}} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			set := func(hs []string) map[string]bool {
				m := map[string]bool{}
				for _, h := range hs {
					m[h] = true
				}
				return m
			}
			u := tc.c.Update("a", []string{"b", "c"}, set(tc.applied), set(tc.away))
			var s []string
			if u.Forget != "" {
				s = append(s, "forget "+u.Forget)
			}
			if u.MoveFrom != "" {
				s = append(s, "move "+u.MoveFrom+" "+u.MoveTo)
			}
			if u.Put != nil {
				s = append(s, fmt.Sprintf("put %s v%d %v", u.Put.Entry.Path, u.Put.Entry.Size, u.Put.Hosts))
			}
			if g := strings.Join(s, "; "); g != tc.want {
				t.Errorf("got %s, want %s", g, tc.want)
			}
		})
	}
}
