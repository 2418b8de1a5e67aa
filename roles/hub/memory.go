package hub

import (
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// Without a limit the Go collector lets the heap grow to twice what is live
// before it runs (GOGC=100): a start-up merge of a million paths on three
// hosts holds some 200 to 220 MB live at its peak and took the hub's
// resident set to 460 to 500 MiB, half of it garbage waiting for the next
// cycle (issue 13, point 5; bench/results.md, "Hub at scale"). During a
// merge the hub therefore sets a soft memory limit (runtime/debug's
// SetMemoryLimit) of what the process held when the merge began plus a
// budget proportional to the paths merged: the collector runs more often
// near it instead of doubling the heap. It is soft: a merge that needs
// more than its budget (hosts whose copies all differ, say) gets it, the
// runtime only spends more of its time collecting (at most half, its own
// cap) rather than failing. A limit the operator set (GOMEMLIMIT) is never
// raised.
const (
	// mergePathBytes and mergeHostBytes are a merge's budget per path,
	// and per path and host: the engine's row, the path, one entry and
	// the plan's compact index record, the stored index's record at a
	// restart, a cell per host. Measured live at the peak, one million
	// paths on three hosts (hubmem4): 204 bytes a path at a first start,
	// 220 to 227 at a restart. The budget is that and 16 bytes a path
	// more, the room the collector has to work in at a restart's peak; it
	// grows with the paths as the garbage between two cycles does (a
	// first start's spooled paths and index writes). A larger budget is
	// resident set the hub holds for fewer cycles.
	mergePathBytes = 166
	mergeHostBytes = 24
	// mergeSlack is what a merge holds whatever its size: the spools'
	// read buffers, a bbolt transaction's pages.
	mergeSlack = 16 << 20
)

// mergeBudget returns the memory budget of a merge of about paths paths
// on hosts hosts.
func mergeBudget(paths, hosts int) int64 {
	return mergeSlack + int64(paths)*(mergePathBytes+int64(hosts)*mergeHostBytes)
}

// mergeMemory keeps the process's soft memory limit while merges run: the
// memory in use when the first began, plus the budgets of those running,
// never above the limit in force before them, which it restores when the
// last one ends. One per hub; sessions merge concurrently.
type mergeMemory struct {
	mu      sync.Mutex
	running int
	budgets int64
	base    int64 // the memory in use when the first running merge began
	saved   int64 // the limit before the first running merge

	setLimit func(int64) int64 // debug.SetMemoryLimit
	inUse    func() int64      // memoryInUse
	free     func()            // debug.FreeOSMemory
}

func newMergeMemory() *mergeMemory {
	return &mergeMemory{setLimit: debug.SetMemoryLimit, inUse: memoryInUse, free: debug.FreeOSMemory}
}

// hold adds a merge's budget to the limit until the returned function is
// called (once; later calls do nothing), when the merge is over and what
// it held is garbage. The last merge's release restores the limit and
// collects at once, returning the merge's heap to the system: left to
// itself, the collector would next run when the heap is twice what the
// merge held live, and a hub that merged a million paths would creep
// back to that size while it runs live.
func (m *mergeMemory) hold(budget int64) (release func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running == 0 {
		m.saved = m.setLimit(-1) // a negative limit reads it
		m.base = m.inUse()
	}
	m.running++
	m.budgets += budget
	m.apply()
	var once sync.Once
	return func() {
		once.Do(func() {
			if m.release(budget) {
				m.free()
			}
		})
	}
}

// release takes a merge's budget off the limit, and restores the limit
// before the merges when it was the last; it reports whether it was.
func (m *mergeMemory) release(budget int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.running--
	m.budgets -= budget
	if m.running == 0 {
		m.setLimit(m.saved)
		return true
	}
	m.apply()
	return false
}

// apply sets the limit for the merges running; m.mu is held.
func (m *mergeMemory) apply() {
	m.setLimit(min(m.saved, m.base+m.budgets))
}

// memoryInUse returns what the Go runtime holds that a merge's budget
// comes on top of: the heap found live by the last collection and the
// runtime's memory besides the heap (stacks, metadata). Garbage not yet
// collected, and heap memory free or returned to the system, do not count.
func memoryInUse() int64 {
	names := []string{
		"/memory/classes/total:bytes",
		"/memory/classes/heap/objects:bytes",
		"/memory/classes/heap/unused:bytes",
		"/memory/classes/heap/free:bytes",
		"/memory/classes/heap/released:bytes",
		"/gc/heap/live:bytes",
	}
	s := make([]metrics.Sample, len(names))
	for i, n := range names {
		s[i].Name = n
	}
	metrics.Read(s)
	v := make([]int64, len(s))
	for i := range s {
		if s[i].Value.Kind() == metrics.KindUint64 {
			v[i] = int64(s[i].Value.Uint64())
		}
	}
	total, objects, unused, free, released, live := v[0], v[1], v[2], v[3], v[4], v[5]
	return total - objects - unused - free - released + live
}
