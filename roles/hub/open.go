package hub

import (
	"fmt"
	"slices"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/wire"
)

// A start-up's or catch-up's op that a target refuses because a process
// there has the file open for writing (wire.KindOpen: a writer that opened
// it after the scan, or one the scan could not see) is a conflict in the
// seed's words ("a file is open at the start of a job and has been
// modified on a host where the configured conflict resolution strategy
// selects a different host as the winner"): the path goes to the File
// Conflict List, as the engine would have put it had the scan shown the
// writer, instead of an error to retry, whose retry would replace the
// file once its writer paused, losing what it writes after. A live op so
// refused is a lag (live_lag.go): its repair never replaces a copy
// changed since, and quarantines it.

// openRefused quarantines op's path, which target refused as open for
// writing there; want is the version the op was to leave (the plan's
// index record, if it has one).
func (r *run) openRefused(target string, op wire.Op, rec conflict.Record, had bool, e wire.Error) {
	if r.quarantined(op.Path) {
		return
	}
	var copies []conflict.Copy
	if op.Have != nil {
		copies = append(copies, conflict.Copy{Host: target, Entry: *op.Have})
	}
	if had {
		for _, h := range rec.Hosts {
			if h != target {
				copies = append(copies, conflict.Copy{Host: h, Entry: rec.Entry})
			}
		}
	}
	slices.SortFunc(copies, func(a, b conflict.Copy) int { return r.hostOrder(a.Host) - r.hostOrder(b.Host) })
	what := "replace"
	if op.Kind == wire.OpDelete {
		what = "remove"
	}
	detail := fmt.Sprintf("open for writing on %s when the session was to %s its copy (%s): left as it is so that its writer's work is not lost; "+
		"resolve it once the file is closed", target, what, e.Msg)
	r.quarantineLive(op.Path, conflict.ReasonOpen, detail, copies)
}

// openRefusedIn quarantines the paths of a start-up's Apply of batch to
// host that results refused as open for writing.
func (r *run) openRefusedIn(host string, batch []wire.Op, results []wire.OpResult, plan conflict.Plan) {
	for _, res := range results {
		if res.Error == nil || res.Error.Kind != wire.KindOpen {
			continue
		}
		i := slices.IndexFunc(batch, func(op wire.Op) bool { return op.Path == res.Path && op.Kind == res.Kind })
		if i < 0 {
			continue
		}
		rec, had := plan.Lookup(res.Path)
		r.openRefused(host, batch[i], rec, had, *res.Error)
	}
}
