package hub

import (
	"github.com/peerlink/peerlink/sync/delta"
	"github.com/peerlink/peerlink/wire"
)

// DeltaMinSize is the smallest file a target receives by delta (sync/delta)
// rather than whole: below it, the signature round trips cost more than
// the bytes they save on a WAN, and the agent keeps no signature of it.
const DeltaMinSize = delta.MinSize

// deltaFor reports whether the target of op may rebuild the file from its
// older copy (wire.Op.Delta): a fetch that replaces a file, of a new
// version of at least DeltaMinSize bytes. The target still checks that its
// copy is op.Have, and fetches whole otherwise.
func deltaFor(op *wire.Op) bool {
	return op.Kind == wire.OpFetch && op.Have != nil && op.Have.Kind == wire.KindFile && op.Want.Size >= DeltaMinSize
}

// markDelta sets Delta on the ops deltaFor allows, before they go out in
// an Apply (live, start-up, a conflict's resolution, a lagging host's
// repair: every Apply goes through applyOps).
func markDelta(ops []wire.Op) {
	for i := range ops {
		ops[i].Delta = deltaFor(&ops[i])
	}
}
