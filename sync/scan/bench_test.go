package scan

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// BenchmarkScanWarm scans 100,000 small files in 1,100 folders with a warm
// cache: the no-change restart case, where nothing may be read. The tree is
// made once per run; the cold first scan that warms the cache is reported
// beside it.
func BenchmarkScanWarm(b *testing.B) {
	const top, sub, per = 100, 10, 100 // 100,000 files
	root := b.TempDir()
	var wg sync.WaitGroup
	for i := range top {
		wg.Go(func() {
			for j := range sub {
				dir := filepath.Join(root, fmt.Sprintf("project %03d", i), fmt.Sprintf("part-%d", j))
				if err := os.MkdirAll(dir, 0o755); err != nil {
					b.Error(err)
					return
				}
				for k := range per {
					if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("file%03d.txt", k)), []byte(dir), 0o644); err != nil {
						b.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	tr := openTree(b, root)
	cache := newMapCache()
	start := time.Now()
	cold := scan(b, tr, Options{Cache: cache})
	coldTook := time.Since(start)
	if cold.stats.Files != top*sub*per || cold.stats.Hashed != top*sub*per {
		b.Fatalf("cold scan: %+v", cold.stats)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		warm := scan(b, tr, Options{Cache: cache})
		if warm.stats.Hashed != 0 || warm.stats.Files != top*sub*per {
			b.Fatalf("warm scan: %+v", warm.stats)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(top*sub*per), "ns/file")
	b.ReportMetric(float64(coldTook.Nanoseconds())/float64(top*sub*per), "cold-ns/file")
}
