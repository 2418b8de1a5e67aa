package hub

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"

	"github.com/peerlink/peerlink/wire"
)

// spool holds one host's scan on disk while a start-up collects the
// others, so that the hub's memory does not grow with the scans (issue
// 13, point 5): a million paths on three hosts are some 450 MB as
// wire.Entry values, and about 60 MB here, in the page cache. Each entry is
// encoded against the one before it (the length of the path they share,
// then the rest), so a scan in walk order costs some 60 bytes an entry.
// It is the conflict engine's Stream: read as many times as it asks.
// The file is removed by close.
type spool struct {
	f    *os.File
	w    *bufio.Writer
	n    int
	prev string
	buf  []byte
	err  error // the first read error, which fails the merge
}

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
	return &spool{f: f, w: bufio.NewWriterSize(f, 1<<16)}, nil
}

// add appends entries.
func (s *spool) add(entries []wire.Entry) error {
	for i := range entries {
		s.buf = appendSpooled(s.buf[:0], s.prev, &entries[i])
		if _, err := s.w.Write(s.buf); err != nil {
			return fmt.Errorf("spool scan: %w", err)
		}
		s.prev = entries[i].Path
		s.n++
	}
	return nil
}

// done flushes what add wrote; Entries reads it from then on.
func (s *spool) done() error {
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("spool scan: %w", err)
	}
	return nil
}

func (s *spool) close() error {
	name := s.f.Name()
	err := s.f.Close()
	return errors.Join(err, os.Remove(name))
}

// Entries yields the spooled entries in the order added. A read error
// ends them early and is kept in s.err.
func (s *spool) Entries() iter.Seq[wire.Entry] {
	return func(yield func(wire.Entry) bool) {
		r := bufio.NewReaderSize(io.NewSectionReader(s.f, 0, 1<<62), 1<<16)
		var prev []byte
		for range s.n {
			e, err := readSpooled(r, &prev)
			if err != nil {
				if s.err == nil {
					s.err = fmt.Errorf("read spooled scan %s: %w", s.f.Name(), err)
				}
				return
			}
			if !yield(e) {
				return
			}
		}
	}
}

// all reads every entry into memory: for the merges that take scans so.
func (s *spool) all() ([]wire.Entry, error) {
	out := make([]wire.Entry, 0, s.n)
	for e := range s.Entries() {
		out = append(out, e)
	}
	return out, s.err
}

const spoolHasHash = 1 // on the flags byte: a hash follows

func appendSpooled(b []byte, prev string, e *wire.Entry) []byte {
	shared := 0
	for shared < len(prev) && shared < len(e.Path) && prev[shared] == e.Path[shared] {
		shared++
	}
	b = binary.AppendUvarint(b, uint64(shared))
	b = binary.AppendUvarint(b, uint64(len(e.Path)-shared))
	b = append(b, e.Path[shared:]...)
	flags := byte(0)
	if !e.Hash.IsZero() {
		flags |= spoolHasHash
	}
	b = append(b, flags, byte(e.Kind))
	b = binary.AppendVarint(b, e.Size)
	b = binary.AppendVarint(b, e.Mtime)
	b = binary.AppendUvarint(b, uint64(e.Mode))
	if !e.Hash.IsZero() {
		b = append(b, e.Hash[:]...)
	}
	return b
}

// readSpooled decodes one entry; prev is the path before it, updated.
func readSpooled(r *bufio.Reader, prev *[]byte) (wire.Entry, error) {
	var e wire.Entry
	shared, err := binary.ReadUvarint(r)
	if err != nil {
		return e, err
	}
	rest, err := binary.ReadUvarint(r)
	if err != nil {
		return e, err
	}
	if shared > uint64(len(*prev)) || rest > 1<<20 {
		return e, errors.New("corrupt entry")
	}
	p := slices.Grow((*prev)[:shared], int(rest))[:shared+rest]
	if _, err := io.ReadFull(r, p[shared:]); err != nil {
		return e, err
	}
	*prev = p
	e.Path = string(p)
	flags, err := r.ReadByte()
	if err != nil {
		return e, err
	}
	kind, err := r.ReadByte()
	if err != nil {
		return e, err
	}
	e.Kind = wire.EntryKind(kind)
	if e.Size, err = binary.ReadVarint(r); err != nil {
		return e, err
	}
	if e.Mtime, err = binary.ReadVarint(r); err != nil {
		return e, err
	}
	mode, err := binary.ReadUvarint(r)
	if err != nil {
		return e, err
	}
	e.Mode = uint32(mode)
	if flags&spoolHasHash != 0 {
		if _, err := io.ReadFull(r, e.Hash[:]); err != nil {
			return e, err
		}
	}
	return e, nil
}
