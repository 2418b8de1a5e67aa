//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
)

// filesPerDir is how many files each generated folder holds.
const filesPerDir = 100

// treeSpec describes a generated source tree.
type treeSpec struct {
	files int
	size  int64
}

func (s treeSpec) bytes() int64 { return int64(s.files) * s.size }

// generate writes spec's files under dir: folders of filesPerDir files,
// each file its own pseudo-random (incompressible) content, so neither
// compression nor deduplication flatters anyone.
func generate(ctx context.Context, dir string, spec treeSpec) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	workers := 4
	var wg sync.WaitGroup
	errc := make(chan error, workers)
	next := make(chan int)
	for range workers {
		wg.Go(func() {
			buf := make([]byte, min(spec.size, 1<<20))
			for i := range next {
				if err := writeFile(dir, i, spec, buf); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	var err error
feed:
	for i := range spec.files {
		select {
		case next <- i:
		case err = <-errc:
			break feed
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err == nil {
		select {
		case err = <-errc:
		default:
		}
	}
	return err
}

func filePath(dir string, i, files int) string {
	if files <= 1 {
		return filepath.Join(dir, "big.bin")
	}
	return filepath.Join(dir, fmt.Sprintf("d%04d", i/filesPerDir), fmt.Sprintf("f%05d.dat", i))
}

func writeFile(dir string, i int, spec treeSpec, buf []byte) error {
	p := filePath(dir, i, spec.files)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(i)+1)
	rng := rand.NewChaCha8(seed)
	for left := spec.size; left > 0; {
		n := min(left, int64(len(buf)))
		rng.Read(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			f.Close()
			return err
		}
		left -= n
	}
	return f.Close()
}

// ownArea is the folder at a watch set's root that each host keeps for
// itself (its root's identity marker) and no session synchronises.
const ownArea = ".peerlink"

// verify checks that dst holds exactly src's files and folders, with the
// same content (and, with mtimes, the same modification times), but for
// each root's own area.
func verify(ctx context.Context, src, dst string, mtimes bool) error {
	count := 0
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == ownArea && d.IsDir() {
			return filepath.SkipDir
		}
		q := filepath.Join(dst, rel)
		count++
		si, err := d.Info()
		if err != nil {
			return err
		}
		di, err := os.Lstat(q)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		if si.Mode().Type() != di.Mode().Type() {
			return fmt.Errorf("verify: %s is a %v, source a %v", q, di.Mode().Type(), si.Mode().Type())
		}
		if d.IsDir() {
			return nil
		}
		if si.Size() != di.Size() {
			return fmt.Errorf("verify: %s has %d bytes, source %d", q, di.Size(), si.Size())
		}
		if mtimes && !si.ModTime().Equal(di.ModTime()) {
			return fmt.Errorf("verify: %s modified %s, source %s", q, di.ModTime(), si.ModTime())
		}
		return sameContent(p, q)
	})
	if err != nil {
		return err
	}
	n := 0
	err = filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if rel, _ := filepath.Rel(dst, p); rel == ownArea && d.IsDir() {
			return filepath.SkipDir
		}
		n++
		return nil
	})
	if err != nil {
		return err
	}
	if n != count {
		return fmt.Errorf("verify: %s has %d entries, source %d", dst, n, count)
	}
	return nil
}

func sameContent(a, b string) error {
	fa, err := os.Open(a)
	if err != nil {
		return err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return err
	}
	defer fb.Close()
	ba, bb := make([]byte, 1<<20), make([]byte, 1<<20)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return fmt.Errorf("verify: %s differs from %s", b, a)
		}
		if ea == io.EOF || ea == io.ErrUnexpectedEOF {
			if eb != ea {
				return fmt.Errorf("verify: %s differs from %s", b, a)
			}
			return nil
		}
		if ea != nil {
			return ea
		}
		if eb != nil {
			return eb
		}
	}
}
