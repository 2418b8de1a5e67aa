package hub

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/sync/filter"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// maxErrors bounds the failures a status lists; the count goes on.
const maxErrors = 100

// run is one started session: its supervisor goroutine and live status.
type run struct {
	h      *Hub
	cfg    api.SessionConfig
	filter *filter.Filter // what the agents watch: the default filter and cfg.Exclude
	log    zerolog.Logger
	// events writes the session's event log for the run; supervise owns
	// it and closes it last.
	events *eventLog
	cancel context.CancelFunc
	done   chan struct{}
	// base is the run's context: work on the session's behalf (conflict
	// resolutions) ends with it.
	base context.Context

	mu    sync.Mutex
	st    api.SessionStatus
	host  map[string]*api.HostStatus
	abort context.CancelCauseFunc // cancels the current attempt, nil between attempts
	// confirmed counts the bytes of completed transfers of this attempt.
	confirmed int64
	// quarantine is the File Conflict List's paths, kept current by the
	// merge, live conflicts and resolutions.
	quarantine map[string]bool
	lockView   []api.Lock // a copy of the live loop's lock table
	flights    flights    // large transfers in flight, for the status

	// liveIn queues the session's live messages for the live loop.
	liveIn chan broker.Incoming
	// liveGone is closed when the current attempt, and so its live loop,
	// has ended; guarded by mu.
	liveGone chan struct{}
	// locks is the lock table. The live loop owns it while it runs; the
	// supervisor goroutine the rest of the time (attempt waits for the
	// live loop to end before it returns), when it holds the locks of an
	// interrupted session for their grace period (see grace.go).
	locks map[string]*heldLock
	// lags are the paths on which a live op failed, by host: what each
	// such host kept (see live_lag.go). The live loop owns them; a
	// start-up, which compares every host's scan, begins without.
	lags map[string]map[string]*lag
	// startFailed are the start-up's ops that left their target behind,
	// which the live loop takes as its first lags (startup_lag.go);
	// guarded by mu while the transfer runs.
	startFailed []opFailure
	// recent are the versions the live loop had each host apply lately
	// (see live_echo.go); the live loop owns them.
	recent recentApplied
	// seen numbers the hosts' reports the live loop took in
	// (live_seen.go).
	seen changesSeen
	// reconciled is when a failed folder rename last made the run start
	// over, and pendingReconcile one waiting for its turn (see
	// reconcileError); the live loop owns both.
	reconciled       time.Time
	pendingReconcile *reconcileError
	// away are the hosts that left the running session, which goes on
	// without them (away.go); the live loop owns it. dropped, guarded by mu, are
	// the hosts that left since the live loop last looked, and hostKick
	// tells it to look. catchIn carries the catch-ups' results to it.
	away    map[string]*awayHost
	dropped map[string]bool
	// scanJournal is, by host, the change journal's number its start-up
	// scan read (catchup_partial.go); guarded by mu.
	scanJournal map[string]uint64
	// scanned are the start-up scans' marks (live_scanned.go).
	scanned  scanMarks
	hostKick chan struct{}
	catchIn  chan catchResult

	// held are the hosts' deletions the mass-delete breaker holds, by
	// host and path, and burst each host's recent live deletions
	// (breaker.go); loaded before each start's merge, then the live
	// loop's. deletionsIn carries an operator's decisions on them to the
	// live loop (breaker_act.go).
	held  map[string]map[string]wire.Entry
	burst map[string]conflict.Burst
	// inline is the content that came with the live message being served
	// (inline.go); the live loop owns it.
	inline      inlineSet
	deletionsIn chan deletionsOrder
	// releaseIn carries locks released by hand to the owner of the lock
	// table: the live loop, or the supervisor while it waits for a host
	// (release.go).
	releaseIn chan releaseOrder

	// resumed is set for a run the hub resumed at its start: its first
	// start-up may go on without the hosts that are not back
	// (startup_away.go). absent are the hosts the current start-up goes
	// without. The supervisor goroutine owns both.
	resumed bool
	absent  map[string]bool
	// Roots (rootid.go): newRoots are the identities the current
	// start-up records once merged, and freshStart is set where every
	// host it merges was reset (no last index then); the supervisor owns
	// both. rootRefused, guarded by mu, are the hosts whose root the last
	// attach refused, and reset those an operator reset since: the live
	// loop takes them from there.
	newRoots    map[string]*wire.RootIdentity
	freshStart  bool
	rootRefused map[string]error
	reset       map[string]bool

	// ending is set, under h.mu, once the run has begun to end: it no
	// longer counts as running for an agent that connects (running.go).
	ending bool
}

func newRun(h *Hub, cfg api.SessionConfig, cancel context.CancelFunc) *run {
	r := &run{h: h, cfg: cfg, cancel: cancel, done: make(chan struct{}), host: map[string]*api.HostStatus{},
		quarantine: map[string]bool{}, liveIn: make(chan broker.Incoming, liveQueue), locks: map[string]*heldLock{},
		away: map[string]*awayHost{}, dropped: map[string]bool{}, scanJournal: map[string]uint64{}, rootRefused: map[string]error{}, reset: map[string]bool{}, hostKick: make(chan struct{}, 1), catchIn: make(chan catchResult, len(cfg.Hosts)),
		deletionsIn: make(chan deletionsOrder), releaseIn: make(chan releaseOrder),
		log: h.log.With().Str("session", cfg.Name).Logger()}
	r.filter = sessionFilter(cfg.Exclude, r.log)
	r.events = newEventLog(h, cfg.Name, r.log)
	r.st.Phase = api.PhaseAttaching
	r.st.Hosts = make([]api.HostStatus, len(cfg.Hosts))
	for i, hr := range cfg.Hosts {
		r.st.Hosts[i] = api.HostStatus{Host: hr.Host, Root: hr.Root, State: "waiting"}
		r.host[hr.Host] = &r.st.Hosts[i]
	}
	return r
}

func (r *run) ctx() context.Context { return r.base }

func (r *run) hostNames() []string {
	names := make([]string, len(r.cfg.Hosts))
	for i, hr := range r.cfg.Hosts {
		names[i] = hr.Host
	}
	return names
}

// status returns a copy of the live status.
// phase is status().Phase without the copy of the whole status: the
// dispatcher asks it of every live message.
func (r *run) phase() api.Phase {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.st.Phase
}

func (r *run) status() api.SessionStatus {
	r.mu.Lock()
	st := r.st
	st.Hosts = append([]api.HostStatus(nil), r.st.Hosts...)
	for i := range st.Hosts {
		st.Hosts[i].Connected = r.h.connected(st.Hosts[i].Host)
	}
	st.Locks = len(r.lockView)
	st.Errors = append([]wire.Error(nil), r.st.Errors...)
	st.Warnings = append([]string(nil), r.st.Warnings...)
	r.mu.Unlock()
	st.Transfers = r.flights.list()
	r.awayCounts(&st)
	return st
}

func (r *run) update(f func(st *api.SessionStatus)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.st)
	r.h.notify(api.NoticeSessions, r.cfg.Name)
}

func (r *run) setHost(host, state string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.h.notify(api.NoticeSessions, r.cfg.Name)
	if hs := r.host[host]; hs != nil {
		hs.State = state
		hs.Error = ""
		if err != nil {
			hs.Error = err.Error()
		}
	}
}

func (r *run) setPhase(p api.Phase) {
	r.update(func(st *api.SessionStatus) { st.Phase = p })
	r.log.Info().Str("phase", string(p)).Msg("session phase")
}

func (r *run) addError(e wire.Error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.h.notify(api.NoticeSessions, r.cfg.Name)
	r.st.ErrorCount++
	if len(r.st.Errors) < maxErrors {
		r.st.Errors = append(r.st.Errors, e)
	}
}

func (r *run) progress(host string, n int64) {
	r.flights.progress(host, n)
	r.update(func(st *api.SessionStatus) {
		// Live transfers are counted by the live loop, in st.Live.
		if st.Phase == api.PhaseSyncing {
			st.Bytes.Done += n
		}
	})
}

// supervise runs attempts until the session is stopped: an attempt that
// fails because a host or the broker went away is retried when all are
// back; any other failure ends the run with the reason in its status.
// Locks are released when the run ends; an attempt cut short by a lost
// host leaves them held for the grace period meanwhile.
func (r *run) supervise(ctx context.Context) {
	defer func() {
		r.end()
		r.releaseAll(r.h.client())
		r.events.close() // after the releases' events, before the run is done
		r.detachAll()
		r.h.mu.Lock()
		delete(r.h.runs, r.cfg.Name)
		r.h.mu.Unlock()
		close(r.done)
	}()
	scanFailures := 0
	for {
		err := r.attempt(ctx)
		if ctx.Err() != nil {
			return
		}
		var we *wire.Error
		var re *reconcileError
		var se *scanError
		if errors.As(err, &se) {
			scanFailures++
			if r.retryScan(ctx, se, scanFailures) != nil {
				return
			}
			continue
		}
		scanFailures = 0
		if errors.As(err, &re) {
			r.log.Warn().Err(err).Msg("session starts over to reconcile")
			r.event("interrupted", "", re.path, err.Error())
			r.update(func(st *api.SessionStatus) { st.Phase = api.PhaseAttaching })
			r.holdLocks()
			if r.waitBack(ctx, err) != nil {
				return
			}
			continue
		}
		if errors.As(err, &we) && we.Kind == wire.KindUnreachable {
			r.log.Warn().Err(err).Msg("session interrupted; will start over when every host is connected")
			r.event("interrupted", "", "", err.Error()+"; starts over when every host is connected")
			r.update(func(st *api.SessionStatus) { st.Phase = api.PhaseAttaching })
			r.holdLocks()
			if r.waitBack(ctx, err) != nil {
				return
			}
			continue
		}
		r.log.Error().Err(err).Msg("session failed")
		r.event("failed", "", "", err.Error())
		r.update(func(st *api.SessionStatus) { st.Phase, st.Reason = api.PhaseFailed, err.Error() })
		if perr := r.h.db.PutSessionState(r.cfg.Name, store.SessionState{Desired: store.DesiredRunning, Phase: string(api.PhaseFailed), Error: err.Error(), Finished: time.Now()}); perr != nil {
			r.log.Error().Err(perr).Msg("record session state")
		}
		// Keep the failed status readable for a moment before the run is
		// forgotten; the stored state keeps it after that.
		return
	}
}

// attempt runs one start-up, then stays running until ctx ends or a host
// is lost. Its error says why it ended.
func (r *run) attempt(ctx context.Context) error {
	ctx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	r.mu.Lock()
	r.abort = abort
	r.st.Reason = ""
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.abort = nil
		r.mu.Unlock()
	}()
	// liveGone tells the hub's dispatcher that no live loop will read
	// this attempt's queue any more.
	gone := make(chan struct{})
	defer close(gone)
	r.mu.Lock()
	r.liveGone = gone
	r.mu.Unlock()
	err := r.startup(ctx)
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	if err != nil {
		return err
	}
	// Running: the live loop serves locks and changes until the attempt
	// ends, and leaves its lock table to the supervisor.
	if c := r.h.client(); c != nil {
		var wg sync.WaitGroup
		wg.Go(func() { r.liveLoop(ctx, c) })
		defer wg.Wait()
	}
	<-ctx.Done()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return ctx.Err()
}

// retryScan waits before the start-up that a host's failed scan
// interrupted starts over: nothing of it was merged, so nothing was
// deleted or sent anywhere; the wait doubles with each failure in a row
// (catchUpRetryMin to catchUpRetryMax, as for a catch-up).
func (r *run) retryScan(ctx context.Context, se *scanError, failures int) error {
	wait := min(catchUpRetryMin<<min(failures-1, 20), catchUpRetryMax)
	msg := fmt.Sprintf("%s; nothing of this start was merged, so nothing is deleted or sent anywhere; the start is tried again in %s (attempt %d)",
		se.err, wait.Round(time.Second), failures+1)
	r.log.Warn().Err(se.err).Str("host", se.host).Dur("retry_in", wait).Msg("scan failed; the start is tried again later")
	// The status first: whoever reads the event then finds the status
	// saying the same.
	r.update(func(st *api.SessionStatus) { st.Phase, st.Reason = api.PhaseAttaching, msg })
	r.setHost(se.host, "failed", errors.New(msg))
	r.event("scan-failed", se.host, "", msg)
	r.holdLocks()
	retry := time.NewTimer(wait)
	defer retry.Stop()
	grace := time.NewTimer(time.Hour)
	defer grace.Stop()
	for {
		var due <-chan time.Time
		if at, held := r.nextExpiry(); held {
			grace.Reset(time.Until(at))
			due = grace.C
		}
		select {
		case <-retry.C:
			return nil
		case <-due:
			r.expireHeld(time.Now())
		case o := <-r.releaseIn:
			r.releaseByHand(o)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// detachAll tells every host the session ended, best effort.
func (r *run) detachAll() {
	c := r.h.client()
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, host := range r.hostNames() {
		if !r.h.connected(host) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Request(ctx, host, &wire.Detach{Session: r.cfg.Name}, nil); err != nil {
				r.log.Debug().Err(err).Str("host", host).Msg("detach")
			}
		}()
	}
	wg.Wait()
}

func errUnreachableBroker() error {
	return &wire.Error{Kind: wire.KindUnreachable, Host: "broker", Msg: "the hub is not connected to the broker"}
}
