package store

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math"
	"testing"

	"github.com/peerlink/peerlink/wire"
)

func TestRecordRoundTrip(t *testing.T) {
	h := wire.Hash(sha256.Sum256([]byte("content")))
	tests := []struct {
		name string
		v    recordValue
	}{
		{"a file held by one host", recordValue{kind: wire.KindFile, mode: 0o644, mtime: 1_700_000_000_123_456_789, size: 42, hash: h, mask: []byte{1}}},
		{"an empty file", recordValue{kind: wire.KindFile, mode: 0o600, mtime: 1, size: 0, hash: wire.Hash(sha256.Sum256(nil)), mask: []byte{3}}},
		{"a huge file", recordValue{kind: wire.KindFile, mode: 0o777, mtime: math.MaxInt64, size: math.MaxInt64, hash: h, mask: []byte{7}}},
		{"a file before 1970", recordValue{kind: wire.KindFile, mode: 0, mtime: -1_000_000_007, size: 1, hash: h, mask: []byte{2}}},
		{"a folder", recordValue{kind: wire.KindDir, mode: 0o755, mtime: 5, mask: []byte{0xff}}},
		{"a folder held by no host", recordValue{kind: wire.KindDir, mode: 0o700}},
		{"a file on host 70 of a big table", recordValue{kind: wire.KindFile, mode: 0o644, size: 9, hash: h, mask: append(make([]byte, 8), 0x40)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := appendRecord(nil, &tt.v)
			got, err := parseRecord(b)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got.kind != tt.v.kind || got.mode != tt.v.mode || got.mtime != tt.v.mtime ||
				got.size != tt.v.size || got.hash != tt.v.hash || !bytes.Equal(got.mask, tt.v.mask) {
				t.Errorf("round trip: got %+v, want %+v", got, tt.v)
			}
		})
	}
}

func TestRecordEncodingIsCompact(t *testing.T) {
	v := recordValue{kind: wire.KindFile, mode: 0o644, mtime: 1_700_000_000_123_456_789, size: 10 << 10, mask: []byte{3}}
	if n := len(appendRecord(nil, &v)); n > 50 {
		t.Errorf("a 10 KiB file on 2 hosts encodes in %d bytes, want at most 50", n)
	}
}

func TestRecordRefusesMalformedValues(t *testing.T) {
	good := appendRecord(nil, &recordValue{kind: wire.KindFile, mode: 0o644, size: 1, mask: []byte{1}})
	with := func(f func([]byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name string
		b    []byte
	}{
		{"nothing", nil},
		{"an unknown format", with(func(b []byte) []byte { b[0] = 9; return b })},
		{"an unknown kind", with(func(b []byte) []byte { b[1] = 3; return b })},
		{"a truncated value", good[:len(good)-3]},
		{"trailing bytes", append(bytes.Clone(good), 0)},
		{"mode bits beyond the permission bits", appendRecord(nil, &recordValue{kind: wire.KindDir, mode: 0o1777})},
		{"a mask with a trailing zero byte", append(appendRecord(nil, &recordValue{kind: wire.KindDir})[:11], 2, 1, 0)},
		{"a mask longer than the host limit", append(appendRecord(nil, &recordValue{kind: wire.KindDir})[:11], 0xff, 0x01)},
		{"a size beyond int64", append(append([]byte{1, 1, 0}, make([]byte, 8)...), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := parseRecord(tt.b); !errors.Is(err, ErrCorrupt) {
				t.Errorf("parse % x: err %v, want ErrCorrupt", tt.b, err)
			}
		})
	}
}

func TestHostTableRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		hosts []string
	}{
		{"no hosts", []string{}},
		{"two hosts", []string{"site-a", "site-b"}},
		{"hosts of every allowed character", []string{"A_z.0-9", "_x"}},
		{"a host of the longest name", []string{string(bytes.Repeat([]byte("h"), wire.MaxNameLen))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseHostTable(appendHostTable(nil, tt.hosts))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.hosts) {
				t.Fatalf("got %q, want %q", got, tt.hosts)
			}
			for i := range got {
				if got[i] != tt.hosts[i] {
					t.Fatalf("got %q, want %q", got, tt.hosts)
				}
			}
		})
	}
	for _, bad := range [][]string{{"a", "a"}, {""}, {"bad/name"}, {"-x"}} {
		if _, err := parseHostTable(appendHostTable(nil, bad)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("host table %q: err %v, want ErrCorrupt", bad, err)
		}
	}
}

func TestHostSetsRefuseBitsBeyondTheTable(t *testing.T) {
	s := hostSets{names: []string{"a", "b"}, sets: map[string][]string{}}
	if hs, err := s.hosts([]byte{3}); err != nil || len(hs) != 2 {
		t.Fatalf("hosts 0b11: %q, %v", hs, err)
	}
	if _, err := s.hosts([]byte{4}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("host bit 2 of a 2-host table: err %v, want ErrCorrupt", err)
	}
}

func TestCachedRoundTrip(t *testing.T) {
	h := wire.Hash(sha256.Sum256([]byte("x")))
	tests := []struct {
		name string
		c    Cached
	}{
		{"an empty file", Cached{}},
		{"an ordinary file", Cached{Size: 1234, Mtime: 1_700_000_000_000_000_001, Ctime: 1_700_000_000_000_000_002, Ino: 991, Hash: h}},
		{"a huge file", Cached{Size: math.MaxInt64, Mtime: math.MinInt64, Ctime: math.MaxInt64, Ino: math.MaxUint64, Hash: h}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := appendCached(nil, &tt.c)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseCached(b)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.c {
				t.Errorf("got %+v, want %+v", got, tt.c)
			}
		})
	}
	if _, err := appendCached(nil, &Cached{Size: -1}); err == nil {
		t.Error("a negative size encoded")
	}
	good, _ := appendCached(nil, &Cached{Size: 1})
	for _, bad := range [][]byte{nil, good[:len(good)-1], append(bytes.Clone(good), 1), append([]byte{2}, good[1:]...)} {
		if _, err := parseCached(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("parse % x: err %v, want ErrCorrupt", bad, err)
		}
	}
}

func FuzzParseRecord(f *testing.F) {
	h := wire.Hash(sha256.Sum256([]byte("seed")))
	f.Add(appendRecord(nil, &recordValue{kind: wire.KindFile, mode: 0o644, mtime: 7, size: 3, hash: h, mask: []byte{5}}))
	f.Add(appendRecord(nil, &recordValue{kind: wire.KindDir, mode: 0o755, mask: []byte{0, 1}}))
	f.Add([]byte{})
	f.Add([]byte{1, 1, 0x80})
	names := []string{"a", "b", "c"}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parseRecord(b)
		if err != nil {
			return
		}
		sets := hostSets{names: names, sets: map[string][]string{}}
		if _, err := sets.hosts(v.mask); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("hosts: %v", err)
		}
		// What decodes re-encodes to an equal value.
		again, err := parseRecord(appendRecord(nil, &v))
		if err != nil {
			t.Fatalf("re-encoded %+v: %v", v, err)
		}
		if again.kind != v.kind || again.mode != v.mode || again.mtime != v.mtime || again.size != v.size ||
			again.hash != v.hash || !bytes.Equal(again.mask, v.mask) {
			t.Fatalf("re-decoded %+v, want %+v", again, v)
		}
	})
}

func FuzzParseHostTable(f *testing.F) {
	f.Add(appendHostTable(nil, []string{"site-a", "site-b"}))
	f.Add(appendHostTable(nil, nil))
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		names, err := parseHostTable(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if _, err := parseHostTable(appendHostTable(nil, names)); err != nil {
			t.Fatalf("re-encoded table: %v", err)
		}
	})
}

func FuzzParseCached(f *testing.F) {
	good, _ := appendCached(nil, &Cached{Size: 10, Mtime: 20, Ctime: 30, Ino: 40})
	f.Add(good)
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseCached(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		again, err := appendCached(nil, &c)
		if err != nil {
			t.Fatalf("decoded %+v does not encode: %v", c, err)
		}
		if got, err := parseCached(again); err != nil || got != c {
			t.Fatalf("re-decoded %+v, %v; want %+v", got, err, c)
		}
	})
}
