//go:build linux

package main

import (
	"context"
	"fmt"
	"time"

	"github.com/peerlink/peerlink/testkit/synthagent"
	"github.com/peerlink/peerlink/wire"
)

const (
	scaleSession = "bench-scale"
	// scaleStepTimeout bounds the wait for one event after the start
	// (the JournalClears) and for one lock or release.
	scaleStepTimeout = 30 * time.Second
)

func keys(t wire.Type, path string, hosts ...string) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = eventKey(t, h, path)
	}
	return out
}

// earliest returns the earliest time of the keys' events that happened.
func (r *recorder) earliest(keys ...string) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	var first time.Time
	for _, k := range keys {
		if t, ok := r.events[k]; ok && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	return first
}

// scaleRun is the scale scenario's sequence on a running hub and its
// connected synthetic agents; it fills r.
func (b *bench) scaleRun(ctx context.Context, c *cluster, rec *recorder, agents map[string]*synthagent.Agent, r *scaleRow) error {
	err := c.waitFor(ctx, 30*time.Second, "the synthetic agents", c.hub, func() bool {
		st, err := c.client().Status(ctx)
		if err != nil {
			return false
		}
		up := 0
		for _, a := range st.Agents {
			if a.Connected {
				up++
			}
		}
		return up == len(scaleHosts)
	})
	if err != nil {
		return err
	}
	r.hwmIdle = c.hub.hwm()
	args := []string{"session", "create", scaleSession}
	for _, h := range scaleHosts {
		args = append(args, "--host", h+"=/synthetic/"+h)
	}
	if _, err := c.cli(ctx, args...); err != nil {
		return err
	}
	b.logf("scale %d: first start", r.paths)
	if r.firstWall, r.firstMerge, r.scanSend, err = b.scaleStart(ctx, c, rec); err != nil {
		return fmt.Errorf("first start: %w", err)
	}
	r.hwmStarted = c.hub.hwm()
	st, err := c.session(ctx, scaleSession)
	if err != nil {
		return err
	}
	if !st.Status.Started.IsZero() && st.Status.Synced.After(st.Status.Started) {
		r.firstHub = st.Status.Synced.Sub(st.Status.Started)
	}
	for _, h := range st.Status.Hosts {
		r.entries = max(r.entries, h.Held)
	}
	if st.Status.Files.Total != 0 || st.Status.ErrorCount != 0 || st.Status.Quarantined != 0 {
		return fmt.Errorf("identical scans should plan nothing: %d files to transfer, %d errors, %d quarantined",
			st.Status.Files.Total, st.Status.ErrorCount, st.Status.Quarantined)
	}
	b.logf("scale %d: started in %s (merge %s, scans sent in %s); hub VmHWM %s", r.paths, dur(r.firstWall), dur(r.firstMerge),
		dur(r.scanSend), size(r.hwmStarted))
	if r.lock, r.lockTimeout, err = b.scaleLocks(ctx, rec, agents, synthagent.Tree{Files: r.paths, Seed: 1}); err != nil {
		return fmt.Errorf("live locks: %w", err)
	}
	q := quantiles(r.lock)
	b.logf("scale %d: lock p50 %s, p99 %s over %d samples", r.paths, ms(q.p50), ms(q.p99), len(r.lock))
	if _, err := c.cli(ctx, "session", "stop", scaleSession); err != nil {
		return err
	}
	b.logf("scale %d: restart against the stored index", r.paths)
	if r.againWall, r.againMerge, _, err = b.scaleStart(ctx, c, rec); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	b.logf("scale %d: restarted in %s (merge %s)", r.paths, dur(r.againWall), dur(r.againMerge))
	return nil
}

// scaleStart starts the session and waits until it runs and the hub told
// every host to clear its journal. merge is from the last scan's Done part
// sent to the first JournalClear received; scans from the first Scan
// received to the last Done sent.
func (b *bench) scaleStart(ctx context.Context, c *cluster, rec *recorder) (wall, merge, scans time.Duration, err error) {
	rec.reset()
	start := time.Now()
	if _, err := c.cli(ctx, "session", "start", scaleSession, "--wait"); err != nil {
		return 0, 0, 0, err
	}
	wall = time.Since(start)
	if _, err := rec.wait(ctx, scaleStepTimeout, keys(wire.TypeJournalClear, "", scaleHosts...)...); err != nil {
		return wall, 0, 0, err
	}
	done, ok := rec.latest(keys(wire.TypeScanPart, "", scaleHosts...)...)
	if !ok {
		return wall, 0, 0, fmt.Errorf("a host's scan did not end")
	}
	first := rec.earliest(keys(wire.TypeJournalClear, "", scaleHosts...)...)
	scans = done.Sub(rec.earliest(keys(wire.TypeScan, "", scaleHosts...)...))
	return wall, first.Sub(done), scans, nil
}

// scaleLocks times live locks: site-a reports write-opens one after
// another, each on a file of its own spread over the tree; a sample is
// the time from the Opened sent until site-b and site-c both received
// their Lock. The close releases them before the next sample.
func (b *bench) scaleLocks(ctx context.Context, rec *recorder, agents map[string]*synthagent.Agent, tree synthagent.Tree) ([]time.Duration, int, error) {
	var samples []time.Duration
	timedOut := 0
	targets := []string{siteB, siteC}
	n := b.o.scale.samples
	for i := range n {
		path := tree.FilePath(int(int64(i) * int64(tree.Files) / int64(n)))
		select {
		case <-time.After(b.o.live.gap):
		case <-ctx.Done():
			return samples, timedOut, ctx.Err()
		}
		start := time.Now()
		octx, cancel := context.WithTimeout(ctx, scaleStepTimeout)
		err := agents[siteA].Opened(octx, scaleSession, path)
		cancel()
		if err != nil {
			return samples, timedOut, err
		}
		locked, err := rec.wait(ctx, liveSampleTimeout, keys(wire.TypeLock, path, targets...)...)
		if err != nil {
			if ctx.Err() != nil {
				return samples, timedOut, err
			}
			timedOut++
			samples = append(samples, liveSampleTimeout)
		} else {
			samples = append(samples, locked.Sub(start))
		}
		if err := agents[siteA].Closed(ctx, scaleSession, path); err != nil {
			return samples, timedOut, err
		}
		if _, err := rec.wait(ctx, scaleStepTimeout, keys(wire.TypeUnlock, path, targets...)...); err != nil {
			return samples, timedOut, fmt.Errorf("release %s: %w", path, err)
		}
	}
	return samples, timedOut, nil
}
