package hub

import (
	"testing"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/wire"
)

func TestJudgeRoot(t *testing.T) {
	recorded := store.RootRecord{Root: wire.RootIdentity{ID: "A", FS: 7, Inode: 2}}
	id := func(id string, fs, ino uint64) *wire.RootIdentity {
		return &wire.RootIdentity{ID: id, FS: fs, Inode: ino}
	}
	tests := []struct {
		name string
		rec  store.RootRecord
		ok   bool
		got  *wire.RootIdentity
		want rootVerdict
	}{
		{"an older agent tells nothing: accepted", recorded, true, nil, rootSame},
		{"nothing recorded: a first merge records it", store.RootRecord{}, false, id("B", 1, 1), rootNew},
		{"reset by an operator: merged as new", store.RootRecord{Fresh: true}, true, id("B", 1, 1), rootNew},
		{"the same root", recorded, true, id("A", 7, 2), rootSame},
		{"moved within its file system: same inode", recorded, true, id("A", 7, 2), rootSame},
		{"a platform that cannot tell the folder", recorded, true, id("A", 0, 0), rootSame},
		{"another marker: another root", recorded, true, id("B", 7, 2), rootOther},
		{"files and no marker: replaced", recorded, true, id("", 7, 2), rootUnmarked},
		{"the marker in another folder: a copy", recorded, true, id("A", 7, 99), rootCopy},
		{"the marker on another file system: a copy", recorded, true, id("A", 8, 2), rootCopy},
		{"an empty root given its marker back: the breaker's case", recorded, true,
			&wire.RootIdentity{ID: "A", FS: 9, Inode: 5, Empty: true, Created: true}, rootEmpty},
		{"emptied by hand, marker too, then written to: the folder recorded", recorded, true,
			&wire.RootIdentity{ID: "A", FS: 7, Inode: 2, Created: true}, rootRemarked},
		{"marker written back into files in another folder: not trusted", recorded, true,
			&wire.RootIdentity{ID: "A", FS: 7, Inode: 3, Created: true}, rootUnmarked},
		{"marker written back where the folder cannot be told: not trusted", recorded, true,
			&wire.RootIdentity{ID: "A", Created: true}, rootUnmarked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := judgeRoot(tt.rec, tt.ok, tt.got)
			if got != tt.want {
				t.Errorf("judgeRoot = %d, want %d", got, tt.want)
			}
			if got.refused() != (tt.want >= rootOther) {
				t.Errorf("refused() = %v", got.refused())
			}
		})
	}
}
