package store

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"math"

	"github.com/peerlink/peerlink/wire"
)

// Format bytes of the binary values (see the package documentation).
const (
	recordFormat    = 1
	hostTableFormat = 1
	cacheFormat     = 1
)

// MaxIndexHosts bounds the host table of one session's index.
const MaxIndexHosts = 1024

// maxMaskLen is the longest host bitmask a record can carry.
const maxMaskLen = (MaxIndexHosts + 7) / 8

// recordValue is a decoded index value; the host set is still the bitmask.
type recordValue struct {
	kind  wire.EntryKind
	mode  uint32
	mtime int64
	size  int64
	hash  wire.Hash
	mask  []byte // aliases the decoded bytes
}

// appendRecord appends the encoding of v to dst.
func appendRecord(dst []byte, v *recordValue) []byte {
	dst = append(dst, recordFormat, byte(v.kind))
	dst = binary.AppendUvarint(dst, uint64(v.mode))
	dst = binary.BigEndian.AppendUint64(dst, uint64(v.mtime))
	if v.kind == wire.KindFile {
		dst = binary.AppendUvarint(dst, uint64(v.size))
		dst = append(dst, v.hash[:]...)
	}
	mask := trimMask(v.mask)
	dst = binary.AppendUvarint(dst, uint64(len(mask)))
	return append(dst, mask...)
}

// parseRecord decodes an index value. It checks the shape of every field;
// the host bits are checked against the host table by hostSets.
func parseRecord(b []byte) (recordValue, error) {
	var v recordValue
	d := decoder{b: b}
	if f := d.byte(); f != recordFormat && d.err == nil {
		return v, d.fail("record format %d", f)
	}
	v.kind = wire.EntryKind(d.byte())
	mode := d.uvarint()
	v.mtime = d.int64()
	if d.err == nil {
		switch v.kind {
		case wire.KindFile:
			v.size = d.size()
			d.bytes(v.hash[:])
		case wire.KindDir:
		default:
			return v, d.fail("kind %d", v.kind)
		}
	}
	n := d.uvarint()
	if d.err == nil && n > maxMaskLen {
		return v, d.fail("host mask of %d bytes", n)
	}
	v.mask = d.take(int(n))
	if err := d.end(); err != nil {
		return v, err
	}
	if mode > uint64(fs.ModePerm) {
		return v, d.fail("mode %o", mode)
	}
	v.mode = uint32(mode)
	if n > 0 && v.mask[n-1] == 0 {
		return v, d.fail("host mask has a trailing zero byte")
	}
	return v, nil
}

// entry returns the wire entry of v at path.
func (v *recordValue) entry(path string) wire.Entry {
	return wire.Entry{Path: path, Kind: v.kind, Size: v.size, Mtime: v.mtime, Mode: v.mode, Hash: v.hash}
}

// recordOf returns the value of entry e (its hash and size dropped for a
// folder), with mask as the host set.
func recordOf(e *wire.Entry, mask []byte) recordValue {
	return recordValue{kind: e.Kind, mode: e.Mode, mtime: e.Mtime, size: e.Size, hash: e.Hash, mask: mask}
}

// trimMask drops trailing zero bytes.
func trimMask(m []byte) []byte {
	for len(m) > 0 && m[len(m)-1] == 0 {
		m = m[:len(m)-1]
	}
	return m
}

// appendHostTable appends the encoding of a session's host table.
func appendHostTable(dst []byte, names []string) []byte {
	dst = append(dst, hostTableFormat)
	dst = binary.AppendUvarint(dst, uint64(len(names)))
	for _, n := range names {
		dst = binary.AppendUvarint(dst, uint64(len(n)))
		dst = append(dst, n...)
	}
	return dst
}

// parseHostTable decodes a host table: valid, distinct host names.
func parseHostTable(b []byte) ([]string, error) {
	d := decoder{b: b}
	if f := d.byte(); f != hostTableFormat && d.err == nil {
		return nil, d.fail("host table format %d", f)
	}
	count := d.uvarint()
	if d.err == nil && count > MaxIndexHosts {
		return nil, d.fail("host table of %d hosts", count)
	}
	names := make([]string, 0, min(count, 64))
	seen := make(map[string]bool, min(count, 64))
	for range count {
		n := d.uvarint()
		if d.err == nil && n > wire.MaxNameLen {
			return nil, d.fail("host name of %d bytes", n)
		}
		name := string(d.take(int(n)))
		if d.err != nil {
			return nil, d.err
		}
		if err := wire.CheckName("host", name); err != nil {
			return nil, d.fail("%v", err)
		}
		if seen[name] {
			return nil, d.fail("host %s twice", name)
		}
		seen[name] = true
		names = append(names, name)
	}
	if err := d.end(); err != nil {
		return nil, err
	}
	return names, nil
}

// Cached is what an agent's scan cache remembers of a file: the stat fields
// that say whether it changed, and the content hash computed then.
type Cached struct {
	Size  int64 // bytes
	Mtime int64 // Unix nanoseconds
	Ctime int64 // Unix nanoseconds of the inode change
	Ino   uint64
	Hash  wire.Hash
}

// appendCached appends the encoding of c; a negative size is an error.
func appendCached(dst []byte, c *Cached) ([]byte, error) {
	if c.Size < 0 {
		return dst, fmt.Errorf("negative size %d", c.Size)
	}
	dst = append(dst, cacheFormat)
	dst = binary.AppendUvarint(dst, uint64(c.Size))
	dst = binary.BigEndian.AppendUint64(dst, uint64(c.Mtime))
	dst = binary.BigEndian.AppendUint64(dst, uint64(c.Ctime))
	dst = binary.AppendUvarint(dst, c.Ino)
	return append(dst, c.Hash[:]...), nil
}

// parseCached decodes a cache entry.
func parseCached(b []byte) (Cached, error) {
	var c Cached
	d := decoder{b: b}
	if f := d.byte(); f != cacheFormat && d.err == nil {
		return c, d.fail("cache format %d", f)
	}
	c.Size = d.size()
	c.Mtime = d.int64()
	c.Ctime = d.int64()
	c.Ino = d.uvarint()
	d.bytes(c.Hash[:])
	return c, d.end()
}

// decoder reads fields from b, remembering the first error so a decoding
// function can read every field and check once.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) error {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
	}
	return d.err
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b)-d.off {
		d.fail("%d bytes wanted at offset %d of %d", n, d.off, len(d.b))
		return nil
	}
	p := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return p
}

func (d *decoder) byte() byte {
	if p := d.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) bytes(dst []byte) {
	if p := d.take(len(dst)); p != nil {
		copy(dst, p)
	}
}

func (d *decoder) int64() int64 {
	if p := d.take(8); p != nil {
		return int64(binary.BigEndian.Uint64(p))
	}
	return 0
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint at offset %d", d.off)
		return 0
	}
	d.off += n
	return v
}

// size reads a uvarint that must fit an int64.
func (d *decoder) size() int64 {
	v := d.uvarint()
	if v > math.MaxInt64 {
		d.fail("size %d", v)
		return 0
	}
	return int64(v)
}

// end reports the first error, or trailing bytes.
func (d *decoder) end() error {
	if d.err == nil && d.off != len(d.b) {
		d.fail("%d trailing bytes", len(d.b)-d.off)
	}
	return d.err
}
