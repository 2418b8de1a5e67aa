//go:build linux

package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"syscall"
	"time"
)

// restart measures session stop + start --wait of the synchronised tiny
// tree, with fresh processes: the first start after the processes started
// is reported on a line of its own.
func (b *bench) restart(ctx context.Context, s *synced) []row {
	spec := b.o.tiny
	r := row{scenario: fmt.Sprintf("restart, %s files, no change (stop + start --wait)", count(spec.files)), files: spec.files, bytes: spec.bytes(),
		agents: []string{siteA, siteB}}
	first := row{scenario: fmt.Sprintf("restart, %s files, no change, fresh processes (start --wait)", count(spec.files)), files: spec.files, bytes: spec.bytes(),
		agents: []string{siteA, siteB}}
	fail := func(err error) []row {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		r.err = err
		b.logf("restart: %v", err)
		return []row{first, r}
	}
	if s == nil && b.o.only["tiny"] {
		return fail(errors.New("the tiny scenario it restarts failed"))
	}
	if s == nil {
		b.logf("restart: setting up a synchronised tree of %d files", spec.files)
		var sr row
		sr, s = b.initial(ctx, "tiny", spec, true)
		if sr.err != nil {
			return fail(sr.err)
		}
	}
	b.load = append(b.load, "restart "+loadAverage())
	first.cp, first.cpSync, r.cp, r.cpSync = s.cp, s.cpSync, s.cp, s.cpSync
	first.cpWhy, r.cpWhy = "full copy", "full copy"
	if s.rsyncNC > 0 {
		r.rsync, r.rsyncWhy = s.rsyncNC, "no change"
	}
	c, err := startCluster(ctx, b.o.bin, s.state, b.o.logLevel, b.o.profile, nil, siteA, siteB)
	if err != nil {
		return fail(err)
	}
	defer c.stop()
	syscall.Sync()
	start := time.Now()
	if _, err := c.cli(ctx, "session", "start", s.name, "--wait"); err != nil {
		first.err = err
		return fail(fmt.Errorf("%w\n%s", err, c.logs(15)))
	}
	first.peerlink = time.Since(start)
	if st, err := c.session(ctx, s.name); err == nil {
		first.hubTook = st.Status.Synced.Sub(st.Status.Started)
		if st.Status.Files.Done != 0 {
			first.err = fmt.Errorf("restart transferred %d files, want none", st.Status.Files.Done)
		}
	}
	b.logf("restart: fresh processes, start --wait %s (hub: %s)", first.peerlink.Round(time.Millisecond), first.hubTook.Round(time.Millisecond))
	var walls, hubs []time.Duration
	for i := range max(b.o.restarts, 1) {
		syscall.Sync()
		start := time.Now()
		if _, err := c.cli(ctx, "session", "stop", s.name); err != nil {
			return fail(err)
		}
		stopped := time.Since(start)
		if _, err := c.cli(ctx, "session", "start", s.name, "--wait"); err != nil {
			return fail(fmt.Errorf("%w\n%s", err, c.logs(15)))
		}
		wall := time.Since(start)
		st, err := c.session(ctx, s.name)
		if err != nil {
			return fail(err)
		}
		if st.Status.Files.Done != 0 {
			return fail(fmt.Errorf("restart transferred %d files, want none", st.Status.Files.Done))
		}
		hub := st.Status.Synced.Sub(st.Status.Started)
		walls, hubs = append(walls, wall), append(hubs, hub)
		b.logf("restart %d: stop + start --wait %s (stop %s; hub: %s)", i+1, wall.Round(time.Millisecond), stopped.Round(time.Millisecond), hub.Round(time.Millisecond))
	}
	r.peerlink, r.hubTook = median(walls), median(hubs)
	if len(walls) > 1 {
		r.spread = fmt.Sprintf("%s–%s", slices.Min(walls).Round(time.Millisecond), slices.Max(walls).Round(time.Millisecond))
	}
	rs := c.stop()
	first.rss, r.rss = rs, rs
	return []row{first, r}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
