package hub

import (
	"slices"

	"github.com/peerlink/peerlink/wire"
)

// A start-up's op that failed on its target leaves that target behind, as
// a live op's does (live_lag.go), and nothing else may ever bring it up to
// date: the index lists the path without the target, and the path's next
// change, if it carries no content (the source renames the file's folder,
// as it did while the start-up read it: make chaos, seed 81033), leaves
// the target without the file for good, the index moving the record with
// the source alone. So the live loop begins with the start-up's failures
// as lags, which the repair brings up to date and a rename moves along.
//
// Left out: a target's refusal of a copy its user changed since the scan
// (their report brings that change, the newest, to the others, as it did
// before), a write-open's refusal (quarantined, openRefusedIn), a failed
// removal (its record stays as it was, for the next start to remove again:
// forgetDeleted) and a failed rename (the next start sees the folders).

// leftBehind notes the ops of batch that failed on host, by results, and
// left it behind.
func (r *run) leftBehind(host string, batch []wire.Op, results []wire.OpResult) {
	for _, res := range results {
		if res.Error == nil || !lagsAfterStart(host, res) {
			continue
		}
		i := slices.IndexFunc(batch, func(op wire.Op) bool { return op.Path == res.Path && op.Kind == res.Kind })
		if i < 0 {
			continue
		}
		e := *res.Error
		e.Host = host
		r.mu.Lock()
		r.startFailed = append(r.startFailed, opFailure{host: host, op: batch[i], err: e})
		r.mu.Unlock()
	}
}

// lagsAfterStart says whether res, a start-up op's failure on host, leaves
// host behind for the live repair.
func lagsAfterStart(host string, res wire.OpResult) bool {
	switch res.Kind {
	case wire.OpFetch, wire.OpMkdir, wire.OpMeta:
	default:
		return false
	}
	switch e := res.Error; {
	case e.Kind == wire.KindOpen:
		return false
	case e.Kind == wire.KindChanged && (e.Host == "" || e.Host == host):
		return false // the target's own copy changed: its report follows
	}
	return true
}

// lagStartFailures makes the start-up's failures the live loop's first
// lags.
func (r *run) lagStartFailures() {
	r.mu.Lock()
	failed := r.startFailed
	r.startFailed = nil
	r.mu.Unlock()
	for _, f := range failed {
		r.log.Debug().Str("host", f.host).Str("path", f.op.Path).Str("op", f.op.Kind.String()).Str("error", f.err.Error()).
			Msg("left behind by the start-up: repaired live")
		r.fallBehind(f.host, f.op, f.err)
	}
}
