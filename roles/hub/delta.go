package hub

import (
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// deltaFor reports whether the target of op may rebuild the file from its
// older copy (wire.Op.Delta): a fetch that replaces a file, of a new
// version the session's delta settings take (on, and at least DeltaMin
// bytes). The target still checks that its copy is op.Have, and fetches
// whole otherwise.
func deltaFor(op *wire.Op, cfg *api.SessionConfig) bool {
	return op.Kind == wire.OpFetch && op.Have != nil && op.Have.Kind == wire.KindFile && deltaAllowed(cfg, op.Want.Size)
}

// markDelta sets Delta on the ops deltaFor allows, before they go out in
// an Apply (live, start-up, a conflict's resolution, a lagging host's
// repair: every Apply goes through applyOps).
func markDelta(ops []wire.Op, cfg *api.SessionConfig) {
	for i := range ops {
		ops[i].Delta = deltaFor(&ops[i], cfg)
	}
}
