package hub

import (
	"testing"

	"github.com/peerlink/peerlink/wire"
)

func TestDeltaForFetchesOfLargeFilesOverAFile(t *testing.T) {
	file := &wire.Entry{Kind: wire.KindFile, Size: 5 << 20}
	dir := &wire.Entry{Kind: wire.KindDir}
	big := wire.Entry{Kind: wire.KindFile, Size: DeltaMinSize}
	small := wire.Entry{Kind: wire.KindFile, Size: DeltaMinSize - 1}
	for _, c := range []struct {
		name string
		op   wire.Op
		want bool
	}{
		{"a large file replacing a file", wire.Op{Kind: wire.OpFetch, Want: big, Have: file}, true},
		{"a small file replacing a file", wire.Op{Kind: wire.OpFetch, Want: small, Have: file}, false},
		{"a large file where there was none", wire.Op{Kind: wire.OpFetch, Want: big}, false},
		{"a large file replacing a folder", wire.Op{Kind: wire.OpFetch, Want: big, Have: dir}, false},
		{"a metadata change", wire.Op{Kind: wire.OpMeta, Want: big, Have: file}, false},
	} {
		if got := deltaFor(&c.op); got != c.want {
			t.Errorf("%s: delta %v, want %v", c.name, got, c.want)
		}
	}
}
