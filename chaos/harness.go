//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"github.com/peerlink/peerlink/testkit/wanlink"
	"github.com/peerlink/peerlink/web/api"
)

// config is how schedules are run.
type config struct {
	bin   string        // the peerlink binary
	dir   string        // where each schedule's processes keep their state
	quiet time.Duration // how long the healed session may take to settle
	shape wanlink.Shape // every agent's link
	keep  bool          // keep each schedule's folder, not only a failed one's
}

// result is one schedule's outcome.
type result struct {
	plan     Plan
	log      []string // the steps carried out, then the heal, with outcomes
	failures []string // empty when every check passed
	notes    []string // what is worth knowing but breaks no promise
	dir      string
	took     time.Duration
}

// runSchedule runs plan on a fresh cluster and checks the end state.
func runSchedule(ctx context.Context, cfg config, plan Plan) (res result) {
	start := time.Now()
	res = result{plan: plan, dir: filepath.Join(cfg.dir, fmt.Sprintf("seed-%d", plan.Seed))}
	defer func() { res.took = time.Since(start) }()
	fail := func(format string, a ...any) { res.failures = append(res.failures, fmt.Sprintf(format, a...)) }
	unlockAll(res.dir)
	if err := os.RemoveAll(res.dir); err != nil {
		fail("clear %s: %v", res.dir, err)
		return res
	}
	c, err := newCluster(ctx, cfg.bin, res.dir, plan.Hosts, cfg.shape)
	if err != nil {
		fail("start the cluster: %v", err)
		return res
	}
	defer c.close()
	if err := createSession(ctx, c); err != nil {
		fail("%v", err)
		return res
	}
	r := &runner{c: c, plan: plan, held: map[int]*os.File{}, office: map[int]*os.File{}}
	defer func() { res.log, res.notes = r.log, r.notes }()
	for i, s := range plan.Steps {
		if ctx.Err() != nil {
			fail("interrupted")
			return res
		}
		r.do(ctx, i, s)
		time.Sleep(50 * time.Millisecond)
	}
	r.heal(ctx, len(plan.Steps))
	r.check(ctx, cfg, fail)
	return res
}

// createSession makes the session over every host's root, with a short
// lock grace so that a writer's host killed for good does not hold its
// copies for the default five minutes, and waits until it runs.
func createSession(ctx context.Context, c *cluster) error {
	cfg := api.SessionConfig{Name: session}
	for _, h := range c.hosts {
		cfg.Hosts = append(cfg.Hosts, api.HostRoot{Host: h, Root: c.root(h)})
	}
	grace := api.Duration(5 * time.Second)
	cfg.LockGrace = &grace
	if _, err := c.client().CreateSession(ctx, cfg); err != nil {
		return fmt.Errorf("create the session: %w", err)
	}
	if _, err := c.client().Start(ctx, session); err != nil {
		return fmt.Errorf("start the session: %w", err)
	}
	return c.waitFor(ctx, 60*time.Second, "the session running", func() (bool, error) {
		s, err := c.client().Session(ctx, session)
		return err == nil && s.Status.Phase == api.PhaseRunning, nil
	})
}

// heal ends every fault the schedule left: held files are closed and
// Office documents saved, the hub, the links and the agents brought back,
// the session started.
func (r *runner) heal(ctx context.Context, next int) {
	var steps []Step
	for _, h := range sortedKeysInt(r.held) {
		steps = append(steps, Step{Kind: Close, Host: r.hostOf(h), Path: r.pathOf(h), Handle: h, Size: 10})
	}
	for _, h := range sortedKeysInt(r.office) {
		steps = append(steps, Step{Kind: Unoffice, Host: r.hostOf(h), Path: r.pathOf(h), Handle: h, Size: 10})
	}
	if !r.c.hub.running() {
		steps = append(steps, Step{Kind: StartHub})
	}
	for _, h := range r.c.hosts {
		steps = append(steps, Step{Kind: RestoreLink, Host: h})
		if !r.c.agents[h].running() {
			steps = append(steps, Step{Kind: StartAgent, Host: h})
		}
	}
	for i, s := range steps {
		r.do(ctx, next+i, s)
	}
	r.log = append(r.log, "--- healed")
	// The session is started once the hub is back, if the schedule left
	// it stopped (or a start was refused).
	_ = r.c.waitFor(ctx, 60*time.Second, "the hub's API", func() (bool, error) {
		_, err := r.c.client().Status(ctx)
		return err == nil, nil
	})
	if s, err := r.c.client().Session(ctx, session); err == nil && s.Status.Phase == api.PhaseStopped {
		r.do(ctx, next+len(steps), Step{Kind: StartSession})
	}
}

// hostOf and pathOf find the step that opened handle h.
func (r *runner) hostOf(h int) string { return r.opener(h).Host }
func (r *runner) pathOf(h int) string { return r.opener(h).Path }

func (r *runner) opener(h int) Step {
	for _, s := range r.plan.Steps {
		if (s.Kind == Open || s.Kind == Office) && s.Handle == h {
			return s
		}
	}
	return Step{}
}

func sortedKeysInt[V any](m map[int]V) []int {
	var ks []int
	for k := range m {
		ks = append(ks, k)
	}
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if ks[j] < ks[i] {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

// quiet reports whether the session runs with every host connected and
// synchronised, nothing locked and nothing moving, and why not.
func (r *runner) quiet(ctx context.Context) (bool, string) {
	cl := r.c.client()
	s, err := cl.Session(ctx, session)
	if err != nil {
		return false, err.Error()
	}
	st := s.Status
	if st.Phase != api.PhaseRunning {
		return false, fmt.Sprintf("phase %s %s", st.Phase, st.Reason)
	}
	for _, h := range st.Hosts {
		if !h.Connected || h.State != "synced" {
			return false, fmt.Sprintf("host %s connected=%v state %s %s", h.Host, h.Connected, h.State, h.Error)
		}
	}
	if st.Locks > 0 || len(st.Transfers) > 0 {
		return false, fmt.Sprintf("%d locks, %d transfers", st.Locks, len(st.Transfers))
	}
	locks, err := cl.Locks(ctx, session)
	if err != nil || len(locks) > 0 {
		return false, fmt.Sprintf("locks listed: %v %v", locks, err)
	}
	return true, ""
}

// settle waits until the session is quiet and the trees stay the same
// for two reads in a row, and returns the last reading. It gives up after
// cfg.quiet and returns why.
func (r *runner) settle(ctx context.Context, cfg config) (Observed, string) {
	deadline := time.Now().Add(cfg.quiet)
	var last Observed
	why := ""
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(time.Second)
		ok, w := r.quiet(ctx)
		if !ok {
			why = "not quiet: " + w
			continue
		}
		o, err := r.observe(ctx)
		if err != nil {
			why = err.Error()
			continue
		}
		if reflect.DeepEqual(o, last) && len(differing(o, r.c.hosts)) == 0 {
			return o, ""
		}
		last, why = o, "trees still changing or differing"
	}
	if last.Trees == nil {
		last, _ = r.observe(ctx)
	}
	return last, why
}

// check waits for quiet, then checks the end state and that a further
// start plans nothing.
func (r *runner) check(ctx context.Context, cfg config, fail func(string, ...any)) {
	o, why := r.settle(ctx, cfg)
	if why != "" {
		fail("did not settle within %s: %s", cfg.quiet, why)
	}
	for _, d := range differing(o, r.c.hosts) {
		fail("differs: %s", d)
	}
	for _, l := range Lost(r.hist.Required(), o) {
		fail("lost: %s", l)
	}
	for _, l := range leftovers(o, r.c.hosts) {
		fail("leftover: %s", l)
	}
	if why != "" || ctx.Err() != nil {
		return
	}
	r.checkRestart(ctx, o, fail)
}

// checkRestart stops and starts the session: with the index matching
// the trees, the start transfers nothing, quarantines nothing new and
// changes no tree.
func (r *runner) checkRestart(ctx context.Context, before Observed, fail func(string, ...any)) {
	cl := r.c.client()
	if _, err := cl.Stop(ctx, session); err != nil {
		fail("restart: stop: %v", err)
		return
	}
	mark := fileSize(r.c.hub.cmdLog(r.c))
	if _, err := cl.Start(ctx, session); err != nil {
		fail("restart: start: %v", err)
		return
	}
	var s api.Session
	err := r.c.waitFor(ctx, 120*time.Second, "the session running again", func() (bool, error) {
		var err error
		s, err = cl.Session(ctx, session)
		return err == nil && s.Status.Phase == api.PhaseRunning, nil
	})
	if err != nil {
		fail("restart: %v", err)
		return
	}
	if f := s.Status.Files; f.Total != 0 || f.Done != 0 {
		fail("restart: the start transferred files: %d of %d", f.Done, f.Total)
	}
	// Records rewritten without a transfer (a folder's time the live
	// path did not follow) are noted, not failed: the start plans nothing.
	if m, ok := lastMerged(r.c.hub.cmdLog(r.c), mark); ok && m.Files != 0 {
		fail("restart: the hub's merge planned %d files", m.Files)
	} else if ok && (m.IndexChanged != 0 || m.IndexGone != 0) {
		r.notes = append(r.notes, fmt.Sprintf("restart: the hub's merge rewrote index records: index_changed %d, index_gone %d", m.IndexChanged, m.IndexGone))
	}
	after, err := r.observe(ctx)
	if err != nil {
		fail("restart: %v", err)
		return
	}
	if !reflect.DeepEqual(before.Trees, after.Trees) {
		fail("restart: the trees changed: %v", differingBetween(before, after))
	}
	if !reflect.DeepEqual(before.Conflicts, after.Conflicts) {
		fail("restart: the File Conflict List changed: %v -> %v", before.Conflicts, after.Conflicts)
	}
}

// differingBetween names the paths whose entries changed from a to b.
func differingBetween(a, b Observed) []string {
	var out []string
	for h, ta := range a.Trees {
		tb := b.Trees[h]
		for p, e := range ta {
			if f, ok := tb[p]; !ok || f != e {
				out = append(out, fmt.Sprintf("%s on %s: %s -> %s", p, h, e.describe(true), f.describe(ok)))
			}
		}
		for p, f := range tb {
			if _, ok := ta[p]; !ok {
				out = append(out, fmt.Sprintf("%s on %s: absent -> %s", p, h, f.describe(true)))
			}
		}
	}
	return out
}

func (p *proc) cmdLog(c *cluster) string { return filepath.Join(c.dir, p.name+".log") }

func fileSize(p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// merged is the hub's log line at the end of a start-up's merge.
type merged struct {
	Msg          string `json:"message"`
	IndexChanged int    `json:"index_changed"`
	IndexGone    int    `json:"index_gone"`
	Files        int64  `json:"files"`
}

// lastMerged finds the last "merged" line the hub logged after offset.
func lastMerged(logPath string, offset int64) (merged, bool) {
	var found merged
	ok := false
	f, err := os.Open(logPath)
	if err != nil {
		return found, false
	}
	defer f.Close()
	if _, err := f.Seek(offset, 0); err != nil {
		return found, false
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m merged
		if json.Unmarshal(sc.Bytes(), &m) == nil && m.Msg == "merged" {
			found, ok = m, true
		}
	}
	return found, ok
}
