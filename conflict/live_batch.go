package conflict

import (
	"strings"

	"github.com/peerlink/peerlink/wire"
)

// batchPaths is what the changes of a batch decided so far leave at each
// path they touched. A host reports some changes twice (its live path and
// a rescan after lost events may both see a file made in a burst), and
// the hub gathers a host's reports into one batch: judged against the
// index alone, which is written after the batch, the second report of a
// new file would be sent as a second create, which the target refuses
// because the first put the file there ("appeared since the scan"), and
// the path would be quarantined as a concurrent edit of a copy the hub
// itself had just sent (issue 17). Two versions of one file in a batch are
// one change: the targets fetch a batch's files at once, so the second
// could not find the first in place.
type batchPaths map[string]batchPath

// batchPath is one path's state after a batch's changes so far.
type batchPath struct {
	at    int        // the index in done of the change that left it so
	gone  bool       // removed or renamed away
	entry wire.Entry // otherwise what is there now
}

// follow handles ch when it only repeats or updates what an earlier change
// of the batch does at the same path, st: a repeat is dropped, a newer
// version or mode of a file becomes that change's. It reports whether ch
// was so handled.
func (b batchPaths) follow(done []LiveChange, st batchPath, ch wire.Change) bool {
	prev := &done[st.at].Change
	switch {
	case st.gone || ch.Kind == wire.ChangeRename || ch.Kind == wire.ChangeRemove:
		return false
	case ch.Entry == st.entry:
		return true
	case fileChange(*prev) && fileChange(ch) && prev.Path == ch.Path:
		if ch.Kind == wire.ChangeWrite {
			prev.Kind = wire.ChangeWrite
		}
		prev.Entry = ch.Entry
		b[ch.Path] = batchPath{at: st.at, entry: ch.Entry}
		return true
	}
	return false
}

// fileChange reports whether ch writes a file or changes its metadata.
func fileChange(ch wire.Change) bool {
	return (ch.Kind == wire.ChangeWrite || ch.Kind == wire.ChangeMeta) && ch.Entry.Kind == wire.KindFile
}

// note records what the change at index i of done leaves. What was below
// a path removed or renamed is not known any more: the index says it.
func (b batchPaths) note(i int, ch wire.Change) {
	switch ch.Kind {
	case wire.ChangeRemove:
		b.forgetBelow(ch.Path)
		b[ch.Path] = batchPath{at: i, gone: true}
	case wire.ChangeRename:
		b.forgetBelow(ch.OldPath)
		b.forgetBelow(ch.Path)
		b[ch.OldPath] = batchPath{at: i, gone: true}
		b[ch.Path] = batchPath{at: i, entry: ch.Entry}
	default:
		b[ch.Path] = batchPath{at: i, entry: ch.Entry}
	}
}

func (b batchPaths) forgetBelow(p string) {
	for k := range b {
		if strings.HasPrefix(k, p+"/") {
			delete(b, k)
		}
	}
}
