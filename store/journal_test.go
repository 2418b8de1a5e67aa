package store

import (
	"slices"
	"testing"
)

func TestJournal(t *testing.T) {
	type step struct {
		note  []string // paths to note
		all   string   // reason to note everything
		clear uint64   // clear up to (after note/all), if set
	}
	tests := []struct {
		name   string
		max    int
		steps  []step
		paths  []string
		all    bool
		reason string
		seq    uint64
	}{
		{name: "a session never noted has an empty, complete journal"},
		{name: "noted paths are listed once each, in order",
			steps: []step{{note: []string{"b/x", "a"}}, {note: []string{"a", "c"}}},
			paths: []string{"a", "b/x", "c"}, seq: 2},
		{name: "a clear drops what was noted up to its number and keeps what came after",
			steps: []step{{note: []string{"a", "b"}}, {note: []string{"c"}, clear: 1}, {note: []string{"d"}}},
			paths: []string{"c", "d"}, seq: 3},
		{name: "a path noted again after the clear's number stays",
			steps: []step{{note: []string{"a", "b"}}, {note: []string{"a"}, clear: 1}},
			paths: []string{"a"}, seq: 2},
		{name: "past the limit the journal says everything",
			max:   3,
			steps: []step{{note: []string{"a", "b"}}, {note: []string{"c", "d"}}},
			all:   true, reason: "more than 3 paths changed", seq: 2},
		{name: "the same paths noted again do not count twice towards the limit",
			max:   2,
			steps: []step{{note: []string{"a", "b"}}, {note: []string{"a", "b"}}},
			paths: []string{"a", "b"}, seq: 2},
		{name: "everything noted hides the paths",
			steps: []step{{note: []string{"a"}}, {all: "watch overflow"}, {note: []string{"b"}}},
			all:   true, reason: "watch overflow", seq: 3},
		{name: "a clear past everything's number makes the journal complete again",
			steps: []step{{note: []string{"a"}}, {all: "agent restarted"}, {note: []string{"b"}, clear: 2}},
			paths: []string{"b"}, seq: 3},
		{name: "a clear before everything's number keeps it",
			steps: []step{{note: []string{"a"}}, {all: "agent restarted", clear: 1}},
			all:   true, reason: "agent restarted", seq: 2},
		{name: "after everything was cleared, the count of paths starts again",
			max:   2,
			steps: []step{{note: []string{"a", "b"}}, {all: "x", clear: 2}, {note: []string{"c", "d"}}},
			paths: []string{"c", "d"}, seq: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := newAgent(t)
			for _, s := range tt.steps {
				if s.note != nil {
					if err := a.JournalNote("docs", s.note, tt.max); err != nil {
						t.Fatal(err)
					}
				}
				if s.all != "" {
					if err := a.JournalAll("docs", s.all); err != nil {
						t.Fatal(err)
					}
				}
				if s.clear != 0 {
					if err := a.ClearJournal("docs", s.clear); err != nil {
						t.Fatal(err)
					}
				}
			}
			j, err := a.ReadJournal("docs")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(j.Paths, tt.paths) || j.All != tt.all || j.Reason != tt.reason || j.Seq != tt.seq {
				t.Errorf("journal = %+v, want paths %q all %v (%q) seq %d", j, tt.paths, tt.all, tt.reason, tt.seq)
			}
		})
	}
}

func TestJournalSurvivesReopenAndGoesWithTheSession(t *testing.T) {
	a, path := newAgent(t)
	if err := a.JournalNote("docs", []string{"a/b.txt"}, 0); err != nil {
		t.Fatal(err)
	}
	if err := a.JournalNote("other", []string{"x"}, 0); err != nil {
		t.Fatal(err)
	}
	a.Close()
	a, err := OpenAgent(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if j, err := a.ReadJournal("docs"); err != nil || !slices.Equal(j.Paths, []string{"a/b.txt"}) {
		t.Fatalf("after reopen: %+v, %v", j, err)
	}
	if err := a.DeleteSession("docs"); err != nil {
		t.Fatal(err)
	}
	if j, err := a.ReadJournal("docs"); err != nil || len(j.Paths) != 0 || j.Seq != 0 {
		t.Fatalf("after the session's deletion: %+v, %v", j, err)
	}
	if j, err := a.ReadJournal("other"); err != nil || !slices.Equal(j.Paths, []string{"x"}) {
		t.Fatalf("another session's journal: %+v, %v", j, err)
	}
	if err := a.JournalNote("docs", []string{"../x"}, 0); err == nil {
		t.Fatal("a path out of the root was noted")
	}
}
