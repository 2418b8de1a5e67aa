package hub

import (
	"slices"
	"time"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/wire"
)

// keptFromRemover makes host, whose removal of folder dir the engine did
// not carry whole (conflict.LiveKeptBelow: content host did not hold
// arrived in it), lag on what stays of the folder: every record below it
// that host does not hold, and the folders on the way to them, dir's own
// record (folder, if the index has it) included, which host removed. The
// repair brings them to host, once its agent no longer refuses them as
// removed there lately (roles/agent/removed.go). A lag the failed fetch of
// such content left is there already; content whose fetch failed at the
// session's start left none, and stayed off host for good (make chaos,
// seed 100016: a folder a user removed while the start-up's fetches into
// it failed).
func (r *run) keptFromRemover(host, dir string, folder *conflict.Record, below []conflict.Record) {
	recs := map[string]conflict.Record{}
	for _, rec := range below {
		recs[rec.Entry.Path] = rec
	}
	if folder != nil {
		recs[dir] = *folder
	}
	kept := map[string]bool{}
	for p, rec := range recs {
		if slices.Contains(rec.Hosts, host) {
			continue
		}
		for ; p != dir && !kept[p]; p = wire.Parent(p) {
			kept[p] = true
		}
		kept[dir] = true
	}
	now := time.Now()
	for p := range kept {
		if _, ok := recs[p]; !ok || r.lagging(p, host) != nil {
			continue
		}
		if r.lags[p] == nil {
			r.lags[p] = map[string]*lag{}
		}
		// Not at once: the agent refuses them for a while.
		r.lags[p][host] = &lag{tries: 1, due: now.Add(broker.Backoff(1)), seen: r.seen.get(host), seenSet: true}
	}
}
