package tree

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/peerlink/peerlink/wire"
)

// BenchmarkCommit writes 10 KiB files into 10 folders, one or 8 in
// flight: "each" is a plain Commit (fsync of the file, rename, fsync of the
// folder); "deferred-per-100" stages with DeferSync and calls Sync every 100
// files (one syncfs, the renames, one fsync per folder); "baseline-cp" is
// what cp does (create, write, close: no temp, no fsync), for scale. Each op
// is one file.
func BenchmarkCommit(b *testing.B) {
	content := strings.Repeat("0123456789abcdef", 640)
	for _, writers := range []int{1, 8} {
		for _, mode := range []struct {
			name  string
			batch int64 // 0: a durable Commit per file; -1: baseline
		}{{"each", 0}, {"deferred-per-100", 100}, {"deferred-per-500", 500}, {"baseline-cp", -1}} {
			b.Run(fmt.Sprintf("%s/writers=%d", mode.name, writers), func(b *testing.B) {
				tr, _ := openTree(b)
				var n atomic.Int64
				write := func() {
					i := n.Add(1)
					name := fmt.Sprintf("d%d/f%d", i%10, i)
					if mode.batch < 0 {
						os.MkdirAll(filepath.Join(tr.Dir(), wire.Parent(name)), 0o755)
						if err := os.WriteFile(filepath.Join(tr.Dir(), name), []byte(content), 0o644); err != nil {
							b.Error(err)
						}
						return
					}
					p, err := tr.Create(name)
					if err != nil {
						b.Error(err)
						return
					}
					if mode.batch > 0 {
						p.DeferSync()
					}
					p.Write([]byte(content))
					if err := p.Commit(entryFor(name, content, 1, 0o644), (*wire.Entry)(nil)); err != nil {
						b.Error(err)
					}
					if mode.batch > 0 && i%mode.batch == 0 {
						if failed, err := tr.Sync(); len(failed) > 0 || err != nil {
							b.Error(failed, err)
						}
					}
				}
				b.SetBytes(int64(len(content)))
				b.ResetTimer()
				if writers == 1 {
					for b.Loop() {
						write()
					}
				} else {
					b.SetParallelism(writers / runtime.GOMAXPROCS(0))
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							write()
						}
					})
				}
				if failed, err := tr.Sync(); len(failed) > 0 || err != nil {
					b.Error(failed, err)
				}
			})
		}
	}
}
