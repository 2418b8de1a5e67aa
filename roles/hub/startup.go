package hub

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// startup is the seed's Step 1: attach every host, scan, merge and resolve,
// then transfer until every host holds the same tree.
func (r *run) startup(ctx context.Context) error {
	hosts := r.hostNames()
	r.setPhase(api.PhaseAttaching)
	r.absent = nil
	if err := r.h.waitHosts(ctx, hosts, r.h.cfg.HostWait); err != nil && !r.startWithout(err) {
		return err
	}
	r.resumed = false // a later attempt waits for every host again
	c := r.h.client()
	if c == nil {
		return errUnreachableBroker()
	}
	r.update(func(st *api.SessionStatus) {
		r.confirmed = 0
		st.Started, st.Synced = time.Now(), time.Time{}
		st.Files, st.Bytes, st.Errors, st.ErrorCount, st.Warnings = api.Counter{}, api.Counter{}, nil, 0, nil
		for i := range st.Hosts {
			st.Hosts[i].AwaySince, st.Hosts[i].CatchUp = time.Time{}, 0
		}
	})
	// What the hosts reported while the session was not running is stale
	// once they attach again: the scan sees where it led, and a remove
	// queued during an outage must not undo what was made since.
	r.drainLive()
	if err := r.attach(ctx, c); err != nil {
		return err
	}
	// Every host undid its target locks as it attached; the writers still
	// open are reported again and locked anew once the session runs.
	r.dropHeld()

	r.setPhase(api.PhaseScanning)
	scans, skipped, writing, err := r.scan(ctx, c)
	if err != nil {
		return err
	}

	held, err := r.settle(ctx, c, scans, skipped, writing)
	if err != nil {
		return err
	}
	r.update(func(st *api.SessionStatus) {
		st.Phase, st.Synced = api.PhaseRunning, time.Now()
		for i := range st.Hosts {
			st.Hosts[i].Held = held[st.Hosts[i].Host]
		}
	})
	st := r.status()
	r.log.Info().Int64("files", st.Files.Done).Int64("bytes", st.Bytes.Done).Int("errors", st.ErrorCount).
		Str("took", st.Synced.Sub(st.Started).Round(time.Millisecond).String()).Msg("initial synchronisation done")
	r.clearJournals(ctx, c)
	r.event("synced", "", "", fmt.Sprintf("initial synchronisation done: %d files, %d bytes, %d errors, %d conflicts, in %s",
		st.Files.Done, st.Bytes.Done, st.ErrorCount, st.Quarantined, st.Synced.Sub(st.Started).Round(time.Millisecond)))
	return r.h.db.PutSessionState(r.cfg.Name, store.SessionState{Desired: store.DesiredRunning, Phase: string(api.PhaseRunning), Started: st.Started, Finished: st.Synced})
}

// settle merges the scans, transfers what the plan says and returns how
// many paths each host holds: all under the merge's memory limit
// (memory.go), which ends, and the plan's memory is handed back, before
// the session runs live.
func (r *run) settle(ctx context.Context, c *broker.Client, scans map[string]*spool, skipped map[string]bool, writing map[string][]string) (map[string]int64, error) {
	r.setPhase(api.PhaseMerging)
	release, err := r.holdMergeMemory(scans)
	if err != nil {
		closeSpools(slices.Collect(maps.Values(scans))...)
		return nil, err
	}
	defer release()
	plan, err := r.merge(scans, skipped, writing)
	if err != nil {
		return nil, err
	}
	if err := r.clearBack(); err != nil {
		return nil, err
	}
	for host, id := range r.newRoots {
		r.recordRoot(host, id)
	}

	r.setPhase(api.PhaseSyncing)
	r.update(func(st *api.SessionStatus) {
		st.Files.Total, st.Bytes.Total = plan.Files, plan.Bytes
	})
	if err := r.transfer(ctx, c, plan); err != nil {
		return nil, err
	}
	plan = conflict.Plan{} // garbage before release collects
	held, err := r.countHeld()
	if err != nil {
		r.log.Error().Err(err).Msg("count what each host holds")
	}
	return held, nil
}

func (r *run) attach(ctx context.Context, c *broker.Client) error {
	hosts := r.startHosts()
	found := make([]*wire.RootIdentity, len(hosts))
	fresh := make([]bool, len(hosts))
	refused := make([]error, len(hosts))
	g, ctx := errgroup.WithContext(ctx)
	for i, hr := range hosts {
		g.Go(func() error {
			var err error
			found[i], fresh[i], err = r.attachHost(ctx, c, hr.Host, hr.Root)
			var re *rootError
			if errors.As(err, &re) {
				refused[i] = err
				r.setHost(hr.Host, api.HostAway, err)
				return nil
			}
			if err != nil {
				r.setHost(hr.Host, "failed", err)
				return err
			}
			r.setHost(hr.Host, "attached", nil)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return r.settleRoots(hosts, found, fresh, refused)
}

// settleRoots takes the roots the start-up attached: a root refused
// leaves its host out of the start (away, until an operator acts), and a
// reset one too, caught up as a new host once the others run; where every
// host it would merge was reset, the merge is a first start's.
func (r *run) settleRoots(hosts []api.HostRoot, found []*wire.RootIdentity, fresh []bool, refused []error) error {
	r.newRoots, r.freshStart = map[string]*wire.RootIdentity{}, false
	nFresh, nRefused := 0, 0
	for i := range hosts {
		if refused[i] != nil {
			nRefused++
		} else if fresh[i] {
			nFresh++
		}
	}
	if nRefused == len(hosts) {
		return refused[0]
	}
	allFresh := nFresh == len(hosts)-nRefused
	if r.absent == nil {
		r.absent = map[string]bool{}
	}
	for i, hr := range hosts {
		switch {
		case refused[i] != nil:
			r.absent[hr.Host] = true
			r.mu.Lock()
			r.rootRefused[hr.Host] = refused[i]
			r.mu.Unlock()
			r.noteRootRefused(hr.Host, refused[i])
		case fresh[i] && !allFresh:
			r.absent[hr.Host] = true
			r.event("root-new", hr.Host, "", fmt.Sprintf("%s's root was reset: the others start first, and %s is merged as a new host once they run", hr.Host, hr.Host))
		default:
			r.newRoots[hr.Host] = found[i]
		}
	}
	r.freshStart = allFresh && nFresh > 0
	return nil
}

// drainLive drops the live messages queued for a loop that is not running.
func (r *run) drainLive() {
	for n := 0; ; n++ {
		select {
		case <-r.liveIn:
		default:
			if n > 0 {
				r.log.Info().Int("messages", n).Msg("dropped live messages queued before the start-up: its scan covers them")
			}
			return
		}
	}
}

// countHeld returns, by host, how many paths the index says it holds.
func (r *run) countHeld() (map[string]int64, error) {
	return r.h.db.IndexHeld(r.cfg.Name)
}
