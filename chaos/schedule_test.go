package main

import (
	"reflect"
	"testing"
)

// A seed replays its schedule: -seed N means the same steps every time.
func TestGenerateIsAFunctionOfTheSeed(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		a, b := Generate(seed, 40, Hosts(4)), Generate(seed, 40, Hosts(4))
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("seed %d: two schedules differ", seed)
		}
	}
	if reflect.DeepEqual(Generate(1, 40, Hosts(3)).Steps, Generate(2, 40, Hosts(3)).Steps) {
		t.Fatal("seeds 1 and 2 give the same schedule")
	}
}

// Every fault step mends what is broken or breaks what is whole: no agent
// is started twice, no handle closed that was not opened, a root is
// emptied only while its agent is down, the session is not stopped or
// started while the hub is down.
func TestGenerateKeepsFaultsConsistent(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		p := Generate(seed, 60, Hosts(5))
		if len(p.Steps) != 65 {
			t.Fatalf("seed %d: %d steps, want 65", seed, len(p.Steps))
		}
		down, cut, open := map[string]bool{}, map[string]bool{}, map[int]bool{}
		hubDown := false
		for i, s := range p.Steps {
			bad := false
			switch s.Kind {
			case KillAgent:
				bad, down[s.Host] = down[s.Host], true
			case StartAgent:
				bad, down[s.Host] = !down[s.Host], false
			case EmptyRoot:
				bad = !down[s.Host]
			case CutLink:
				bad, cut[s.Host] = cut[s.Host], true
			case RestoreLink:
				bad, cut[s.Host] = !cut[s.Host], false
			case KillHub:
				bad, hubDown = hubDown, true
			case StartHub:
				bad, hubDown = !hubDown, false
			case StopSession, StartSession:
				bad = hubDown
			case Open, Office:
				bad, open[s.Handle] = open[s.Handle], true
			case Close, Unoffice:
				bad, open[s.Handle] = !open[s.Handle], false
			}
			if bad {
				t.Fatalf("seed %d step %d: %s does not follow from the steps before", seed, i, s)
			}
		}
	}
}

func TestStepString(t *testing.T) {
	for _, c := range []struct {
		step Step
		want string
	}{
		{Step{Kind: Write, Host: "site-a", Path: "a/f1.txt", Size: 10}, "write site-a a/f1.txt 10B"},
		{Step{Kind: Rename, Host: "site-b", Path: "a", To: "b/moved"}, "rename site-b a -> b/moved"},
		{Step{Kind: Truncate, Host: "site-c", Path: "f2.txt", Size: 3}, "truncate site-c f2.txt to 3B"},
		{Step{Kind: Chmod, Host: "site-a", Path: "f2.txt", Mode: 0o600}, "chmod site-a f2.txt 0600"},
		{Step{Kind: Open, Host: "site-a", Path: "f2.txt", Handle: 2}, "open site-a f2.txt #2"},
		{Step{Kind: KillHub}, "kill-hub"},
		{Step{Kind: Pause, Millis: 300}, "pause 300ms"},
	} {
		if got := c.step.String(); got != c.want {
			t.Errorf("%#v: %q, want %q", c.step, got, c.want)
		}
	}
}
