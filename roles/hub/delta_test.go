package hub

import (
	"testing"

	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

func TestDeltaForFetchesOfLargeFilesOverAFile(t *testing.T) {
	file := &wire.Entry{Kind: wire.KindFile, Size: 5 << 20}
	dir := &wire.Entry{Kind: wire.KindDir}
	big := wire.Entry{Kind: wire.KindFile, Size: api.DefaultDeltaMin}
	small := wire.Entry{Kind: wire.KindFile, Size: api.DefaultDeltaMin - 1}
	off, on := false, true
	defaults := &api.SessionConfig{}
	for _, c := range []struct {
		name string
		op   wire.Op
		cfg  *api.SessionConfig
		want bool
	}{
		{"a large file replacing a file", wire.Op{Kind: wire.OpFetch, Want: big, Have: file}, defaults, true},
		{"a small file replacing a file", wire.Op{Kind: wire.OpFetch, Want: small, Have: file}, defaults, false},
		{"a large file where there was none", wire.Op{Kind: wire.OpFetch, Want: big}, defaults, false},
		{"a large file replacing a folder", wire.Op{Kind: wire.OpFetch, Want: big, Have: dir}, defaults, false},
		{"a metadata change", wire.Op{Kind: wire.OpMeta, Want: big, Have: file}, defaults, false},
		{"delta off", wire.Op{Kind: wire.OpFetch, Want: big, Have: file}, &api.SessionConfig{Delta: &off}, false},
		{"a small file, from a smaller minimum", wire.Op{Kind: wire.OpFetch, Want: small, Have: file}, &api.SessionConfig{Delta: &on, DeltaMin: 4096}, true},
		{"a large file, below a larger minimum", wire.Op{Kind: wire.OpFetch, Want: big, Have: file}, &api.SessionConfig{DeltaMin: 2 << 20}, false},
	} {
		if got := deltaFor(&c.op, c.cfg); got != c.want {
			t.Errorf("%s: delta %v, want %v", c.name, got, c.want)
		}
	}
}
