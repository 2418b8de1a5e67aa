package hub

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/wire"
)

// spool holds one host's scan on disk while a start-up collects the
// others, so that the hub's memory does not grow with the scans (issue
// 13, point 5): a million paths on three hosts are some 450 MB as
// wire.Entry values, and about 60 MB here, in the page cache. Each entry is
// encoded against the one before it (the length of the path they share,
// then the rest), so a scan in walk order costs some 60 bytes an entry.
//
// It is the conflict engine's Stream, read as many times as it asks, and
// always in the engine's tree order (conflict.ComparePaths), which alone
// lets the engine merge it without holding it: an agent walks a folder's
// children in byte order of their names with a folder's name taken as
// name+"/" (sync/scan), so `2024-old` and its contents come before
// `2024`'s, and an older agent may send any order. The spool is an
// external merge sort: entries are written in runs of runLen, each
// sorted (stably) before it is written; a spool whose runs follow one
// another is read straight through, any other by merging its runs.
// Entries whose path is not a watch-set path (the wire decoder refuses
// them, so this is for the engine's contract only) come first, in the
// order added: the engine ignores them but for a warning naming the first.
// The file is removed by close.
type spool struct {
	f       *os.File
	w       *bufio.Writer
	n       int
	runLen  int          // entries a run holds at most
	pending []wire.Entry // the run being collected
	runs    []spoolRun
	size    int64        // bytes written
	lastRun string       // the path the run before ended with
	merge   bool         // some run starts before the one before it ended
	stray   []wire.Entry // entries whose path is not a watch-set path
	buf     []byte
	err     error // the first read error, which fails the merge
	// known is the stored index in tree order, whose paths a read in
	// order hands out in place of new strings (knownPaths), or nil.
	known []conflict.Record
}

// spoolRun is where a run lies in the file and how many entries it holds.
type spoolRun struct {
	off, size int64
	n         int
}

// defaultRunLen bounds what a spool holds in memory while its host scans:
// some 10 MB with the entries' paths.
const defaultRunLen = 1 << 15

// spoolDir returns the folder of the spools under the hub's data, made
// empty: a spool left by a hub that stopped mid-merge is of no use.
func spoolDir(data, session string) (string, error) {
	dir := filepath.Join(data, "spool", session)
	if err := os.RemoveAll(dir); err != nil {
		return "", fmt.Errorf("clear the scan spools: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("make the scan spools' folder: %w", err)
	}
	return dir, nil
}

func newSpool(dir, host string) (*spool, error) {
	f, err := os.CreateTemp(dir, "scan-"+host+"-*.spool")
	if err != nil {
		return nil, fmt.Errorf("spool %s's scan: %w", host, err)
	}
	return &spool{f: f, w: bufio.NewWriterSize(f, 1<<16), runLen: defaultRunLen}, nil
}

// add appends entries.
func (s *spool) add(entries []wire.Entry) error {
	for i := range entries {
		s.n++
		if wire.CheckPath(entries[i].Path) != nil {
			s.stray = append(s.stray, entries[i])
			continue
		}
		s.pending = append(s.pending, entries[i])
		if len(s.pending) >= s.runLen {
			if err := s.writeRun(); err != nil {
				return err
			}
		}
	}
	return nil
}

// done writes the last run and flushes; Entries reads the spool from then
// on.
func (s *spool) done() error {
	if err := s.writeRun(); err != nil {
		return err
	}
	s.pending = nil
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("spool scan: %w", err)
	}
	return nil
}

// writeRun sorts the pending entries, in tree order and otherwise in the
// order added, and writes them as a run.
func (s *spool) writeRun() error {
	run := s.pending
	if len(run) == 0 {
		return nil
	}
	byPath := func(a, b wire.Entry) int { return conflict.ComparePaths(a.Path, b.Path) }
	if !slices.IsSortedFunc(run, byPath) {
		slices.SortStableFunc(run, byPath)
	}
	if len(s.runs) > 0 && conflict.ComparePaths(s.lastRun, run[0].Path) > 0 {
		s.merge = true
	}
	r := spoolRun{off: s.size, n: len(run)}
	prev := ""
	for i := range run {
		s.buf = appendSpooled(s.buf[:0], prev, &run[i])
		if _, err := s.w.Write(s.buf); err != nil {
			return fmt.Errorf("spool scan: %w", err)
		}
		r.size += int64(len(s.buf))
		prev = run[i].Path
	}
	s.size += r.size
	s.runs = append(s.runs, r)
	s.lastRun = prev
	clear(run) // the paths are not kept past their run
	s.pending = run[:0]
	return nil
}

func (s *spool) close() error {
	name := s.f.Name()
	err := s.f.Close()
	return errors.Join(err, os.Remove(name))
}

// all reads every entry into memory: for the merges that take scans so.
func (s *spool) all() ([]wire.Entry, error) {
	out := make([]wire.Entry, 0, s.n)
	for e := range s.Entries() {
		out = append(out, e)
	}
	return out, s.err
}
