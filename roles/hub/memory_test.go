package hub

import (
	"math"
	"runtime"
	"testing"
)

// fakeLimit stands in for the runtime's memory limit.
type fakeLimit struct {
	limit int64
	inUse int64
	freed int
}

func (f *fakeLimit) memory() *mergeMemory {
	return &mergeMemory{
		setLimit: func(l int64) int64 {
			old := f.limit
			if l >= 0 {
				f.limit = l
			}
			return old
		},
		inUse: func() int64 { return f.inUse },
		free:  func() { f.freed++ },
	}
}

func TestMergeMemoryLimitsMergesAndRestores(t *testing.T) {
	f := &fakeLimit{limit: math.MaxInt64, inUse: 100}
	m := f.memory()
	releaseA := m.hold(1000)
	if f.limit != 1100 {
		t.Fatalf("one merge: limit %d, want the memory in use plus its budget, 1100", f.limit)
	}
	f.inUse = 5000 // what the first merge holds does not count twice
	releaseB := m.hold(500)
	if f.limit != 1600 {
		t.Fatalf("two merges: limit %d, want 1600", f.limit)
	}
	releaseA()
	releaseA() // a second call does nothing
	if f.limit != 600 || f.freed != 0 {
		t.Fatalf("after the first merge: limit %d, collections %d; want 600 and none while a merge runs", f.limit, f.freed)
	}
	releaseB()
	if f.limit != math.MaxInt64 || f.freed != 1 {
		t.Fatalf("after the last merge: limit %d, collections %d; want the limit before the merges and one collection", f.limit, f.freed)
	}
	f.inUse = 300
	release := m.hold(10)
	if f.limit != 310 {
		t.Fatalf("a later merge: limit %d, want 310 (the memory in use when it began)", f.limit)
	}
	release()
}

// A limit the operator set (GOMEMLIMIT) is never raised, and is restored.
func TestMergeMemoryKeepsALowerLimit(t *testing.T) {
	f := &fakeLimit{limit: 800, inUse: 100}
	m := f.memory()
	release := m.hold(1000)
	if f.limit != 800 {
		t.Fatalf("limit %d, want the operator's 800", f.limit)
	}
	release()
	if f.limit != 800 {
		t.Fatalf("after: limit %d, want 800", f.limit)
	}
}

func TestMergeBudgetGrowsWithPathsAndHosts(t *testing.T) {
	if b := mergeBudget(0, 3); b != mergeSlack {
		t.Errorf("no path: budget %d, want the slack %d", b, mergeSlack)
	}
	one, three := mergeBudget(1_000_000, 1), mergeBudget(1_000_000, 3)
	if three <= one || mergeBudget(2_000_000, 3)-mergeSlack != 2*(three-mergeSlack) {
		t.Errorf("budgets %d (1 host), %d (3 hosts), %d (2M paths): want growth with hosts and linear in paths", one, three, mergeBudget(2_000_000, 3))
	}
}

// The runtime's figures are read: what is in use is positive and below
// everything the runtime holds.
func TestMemoryInUse(t *testing.T) {
	runtime.GC()
	n := memoryInUse()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if n <= 0 || uint64(n) > ms.Sys {
		t.Fatalf("memory in use %d, want > 0 and at most the %d bytes the runtime holds", n, ms.Sys)
	}
}
