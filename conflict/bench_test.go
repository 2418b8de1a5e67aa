package conflict

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"

	"github.com/peerlink/peerlink/wire"
)

// benchInput builds n paths (one folder per 20 files, folders three deep)
// on three hosts with a last index. It is a restart after offline work: 1%
// of files edited on one host, 1% deleted on another, 1% created on a third.
func benchInput(n, nh int) Input {
	hosts := []string{"site-a", "site-b", "site-c", "site-d", "site-e"}[:nh]
	in := Input{Hosts: hosts, Scans: map[string][]wire.Entry{}, Last: make(map[string]Record, n)}
	var base []wire.Entry
	seen := map[string]bool{}
	for i := 0; len(base) < n; i++ {
		dir := fmt.Sprintf("dept%02d/proj%03d/d%04d", i%37, i%301, i)
		for _, p := range []string{wire.Parent(wire.Parent(dir)), wire.Parent(dir), dir} {
			if !seen[p] {
				seen[p] = true
				base = append(base, D(p))
			}
		}
		for j := 0; j < 20 && len(base) < n; j++ {
			p := fmt.Sprintf("%s/file-%02d.docx", dir, j)
			base = append(base, wire.Entry{Path: p, Kind: wire.KindFile, Size: int64(1000 + j), Mtime: epoch, Mode: 0o644, Hash: sha256.Sum256([]byte(p))})
		}
	}
	slices.SortFunc(base, func(a, b wire.Entry) int { return comparePaths(a.Path, b.Path) })
	for _, e := range base {
		in.Last[e.Path] = Record{Entry: e, Hosts: hosts}
	}
	for h, name := range hosts {
		scan := make([]wire.Entry, 0, len(base)+n/100)
		for i, e := range base {
			switch {
			case e.Kind == wire.KindFile && i%100 == 7 && h == 0:
				e.Hash[0]++
				e.Mtime += 10 * second
			case e.Kind == wire.KindFile && i%100 == 17 && h == 1:
				continue
			}
			scan = append(scan, e)
			if e.Kind == wire.KindFile && i%100 == 27 && h == 2 {
				scan = append(scan, wire.Entry{Path: e.Path + ".new", Kind: wire.KindFile, Size: 9, Mtime: epoch, Mode: 0o644})
			}
		}
		in.Scans[name] = scan
	}
	return in
}

func BenchmarkResolve100kPaths3Hosts(b *testing.B) {
	in := benchInput(100_000, 3)
	for _, bc := range []struct {
		name string
		opt  Options
	}{
		{"last-modified", Options{Resolver: LastModified}},
		{"all-options", Options{Resolver: LastModified, TruncateMs: true, QuarantineOfflineConflicts: true,
			OfflineRenameDetection: true, OfflineDeleteDetection: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in.Options = bc.opt
			b.ReportAllocs()
			for b.Loop() {
				p := Resolve(in)
				if len(p.Index) < 98_000 || len(p.Warnings) > 0 {
					b.Fatalf("index holds %d paths; warnings %q", len(p.Index), p.Warnings)
				}
			}
		})
	}
}

// BenchmarkResolve1MPaths5Hosts is the scale DESIGN.md names: a million
// paths on five hosts (about 1.5 GB allocated per run).
func BenchmarkResolve1MPaths5Hosts(b *testing.B) {
	in := benchInput(1_000_000, 5)
	in.Options = Options{Resolver: LastModified, OfflineDeleteDetection: true, OfflineRenameDetection: true}
	b.ReportAllocs()
	for b.Loop() {
		if p := Resolve(in); len(p.Index) < 980_000 {
			b.Fatalf("index holds %d paths", len(p.Index))
		}
	}
}
