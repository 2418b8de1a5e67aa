package hub

import (
	"path/filepath"
	"runtime"
	"testing"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/testkit/synthagent"
	"github.com/peerlink/peerlink/wire"
)

// BenchmarkStartupMergeMemory splits the start-up merge's memory (issue
// 13, point 5) into what each of its structures holds per path, live after
// a garbage collection: every host's scan as the hub collects it, the
// plan's index, storeIndex's list of the changed paths, and an index
// loaded from hub.db (LoadIndex, what a restart merges against). The bench's
// scale scenario measures the whole hub; this says where it goes. One
// iteration of a million paths on three hosts takes about 20 s:
//
//	go test -run '^$' -bench StartupMergeMemory -benchtime 1x ./roles/hub
func BenchmarkStartupMergeMemory(b *testing.B) {
	const n = 1_000_000
	hosts := []string{"site-a", "site-b", "site-c"}
	tree := synthagent.Tree{Files: n, Seed: 1}
	for b.Loop() {
		base := liveHeap()
		scans := map[string][]wire.Entry{}
		for _, h := range hosts {
			var all []wire.Entry
			// As scan collects a host's parts: appended as they come.
			if _, err := tree.Walk(0, func(part []wire.Entry) error { all = append(all, part...); return nil }); err != nil {
				b.Fatal(err)
			}
			scans[h] = all
		}
		afterScans := liveHeap()
		plan := conflict.Resolve(conflict.Input{Hosts: hosts, Scans: scans, Last: map[string]conflict.Record{},
			Options: conflict.Options{Resolver: conflict.LastModified}})
		afterPlan := liveHeap()
		var changed []string // as storeIndex lists them at a first start
		for p := range plan.Index {
			changed = append(changed, p)
		}
		afterChanged := liveHeap()
		db, err := store.OpenHub(filepath.Join(b.TempDir(), "hub.db"))
		if err != nil {
			b.Fatal(err)
		}
		roots := []store.HostRoot{{Host: hosts[0], Root: "/a"}, {Host: hosts[1], Root: "/b"}, {Host: hosts[2], Root: "/c"}}
		if err := db.PutSession(store.Session{Name: "s", Hosts: roots}); err != nil {
			b.Fatal(err)
		}
		if err := db.PutIndexOf("s", changed, plan.Index); err != nil {
			b.Fatal(err)
		}
		beforeLoad := liveHeap()
		last, err := db.LoadIndex("s")
		if err != nil {
			b.Fatal(err)
		}
		afterLoad := liveHeap()
		runtime.KeepAlive(scans)
		runtime.KeepAlive(plan)
		runtime.KeepAlive(changed)
		runtime.KeepAlive(last)
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		perPath := func(from, to uint64) float64 { return float64(int64(to)-int64(from)) / n }
		b.ReportMetric(perPath(base, afterScans), "scans-B/path")
		b.ReportMetric(perPath(afterScans, afterPlan), "plan-B/path")
		b.ReportMetric(perPath(afterPlan, afterChanged), "changed-B/path")
		b.ReportMetric(perPath(beforeLoad, afterLoad), "loaded-B/path")
	}
}

// liveHeap returns the bytes of live heap objects after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
