package synthagent

import (
	"fmt"
	"math/rand/v2"

	"github.com/peerlink/peerlink/wire"
)

// Tree says what a synthetic agent's root holds: Files files in folders of
// PerDir, the folders in groups of PerDir, with sizes, times and hashes
// drawn from Seed. Agents given the same Tree scan the same entries.
type Tree struct {
	Files  int
	PerDir int    // files per folder and folders per group; 0 means 100
	Seed   uint64 // of the sizes, times and hashes
}

// baseTime is the generated files' modification times' origin (Unix
// nanoseconds, 2024-01-01).
const baseTime = int64(1704067200) * 1e9

func (t Tree) perDir() int {
	if t.PerDir <= 0 {
		return 100
	}
	return t.PerDir
}

// Walk calls emit with the tree's entries in batches of at most batch
// (wire.MaxBatch if 0), each folder before what it holds, in path order,
// and returns what a scan's stats would say. It stops at emit's first
// error.
func (t Tree) Walk(batch int, emit func([]wire.Entry) error) (wire.ScanStats, error) {
	if batch <= 0 || batch > wire.MaxBatch {
		batch = wire.MaxBatch
	}
	per := t.perDir()
	rng := rand.New(rand.NewPCG(t.Seed, 0x5eed))
	var st wire.ScanStats
	buf := make([]wire.Entry, 0, batch)
	put := func(e wire.Entry) error {
		buf = append(buf, e)
		if len(buf) < batch {
			return nil
		}
		err := emit(buf)
		buf = make([]wire.Entry, 0, batch) // emit may keep the last one
		return err
	}
	if t.Files > 0 {
		st.Dirs++
		if err := put(wire.Entry{Path: "projects", Kind: wire.KindDir, Mtime: baseTime, Mode: 0o755}); err != nil {
			return st, err
		}
	}
	group, dir := "", ""
	for i := range t.Files {
		d := i / per
		if g := fmt.Sprintf("projects/group-%05d", d/per); g != group {
			group = g
			st.Dirs++
			if err := put(wire.Entry{Path: group, Kind: wire.KindDir, Mtime: baseTime, Mode: 0o755}); err != nil {
				return st, err
			}
		}
		if nd := fmt.Sprintf("%s/folder-%07d", group, d); nd != dir {
			dir = nd
			st.Dirs++
			if err := put(wire.Entry{Path: dir, Kind: wire.KindDir, Mtime: baseTime, Mode: 0o755}); err != nil {
				return st, err
			}
		}
		e := wire.Entry{Path: fmt.Sprintf("%s/document-%03d.dat", dir, i%per), Kind: wire.KindFile,
			Size: 1 + rng.Int64N(1<<20), Mtime: baseTime + rng.Int64N(365*24*3600)*1e9, Mode: 0o644}
		for j := 0; j < wire.HashSize; j += 8 {
			v := rng.Uint64()
			for k := range 8 {
				e.Hash[j+k] = byte(v >> (8 * k))
			}
		}
		st.Files++
		st.Bytes += e.Size
		if err := put(e); err != nil {
			return st, err
		}
	}
	if len(buf) > 0 {
		if err := emit(buf); err != nil {
			return st, err
		}
	}
	return st, nil
}

// FilePath is the path of the tree's i-th file, as Walk names it.
func (t Tree) FilePath(i int) string {
	per := t.perDir()
	d := i / per
	return fmt.Sprintf("projects/group-%05d/folder-%07d/document-%03d.dat", d/per, d, i%per)
}
