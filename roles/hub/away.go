package hub

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// A host that leaves a running session (issue 14). The session goes on
// with the hosts that are connected: they lock and propagate among
// themselves at once, and the index follows them. The host is marked away
// in hub.db, and from then on every index write keeps, in the host's
// ledger, the record a path had before its first change (store/away.go):
// what the host will have to catch up. Locks whose source was the host
// keep the grace period (grace.go); nothing else waits for it. When it
// connects again, its catch-up (catchup.go) runs beside the live loop,
// and the host goes live once its ledger is empty.
//
// The live loop owns r.away. Arrivals and departures reach it as a kick:
// the loop then compares every host's connection with what it knows, and
// r.dropped says which hosts left since, even if they are back by now (a
// host that reconnects lost its attachment: it is caught up as well).

// awayHost is a host of the running session that does not take part.
type awayHost struct {
	since time.Time
	// catching is the catch-up under way, nil while the host is away.
	catching *catchUp
	// failed: its catch-up failed; it is tried again at retryAt (zero:
	// once the host connects again), after retries failures in a row
	// (catchup_retry.go).
	failed  bool
	retryAt time.Time
	retries int
}

// hostChanged is told of every agent coming or going. While the session
// runs, the live loop settles it (a host away, or back); during a start,
// a lost participant aborts the attempt, and the supervisor starts over
// once every host is back (supervise).
func (r *run) hostChanged(host string, up bool) {
	r.mu.Lock()
	_, ours := r.host[host]
	abort := r.abort
	running := r.st.Phase == api.PhaseRunning
	if ours && running {
		if !up {
			r.dropped[host] = true
		}
		r.kickHosts()
	}
	r.mu.Unlock()
	if !ours || up || abort == nil || running {
		return
	}
	abort(&wire.Error{Kind: wire.KindUnreachable, Host: host, Msg: "disconnected"})
}

// brokerLost interrupts every run whose attempt is under way: the hub is
// cut off from every host at once, and its live loop's broker client is
// gone with the connection. The supervisor starts over once the broker
// and every host are back.
func (h *Hub) brokerLost() {
	h.mu.Lock()
	runs := make([]*run, 0, len(h.runs))
	for _, r := range h.runs {
		runs = append(runs, r)
	}
	h.mu.Unlock()
	for _, r := range runs {
		r.mu.Lock()
		abort := r.abort
		r.mu.Unlock()
		if abort != nil {
			abort(errUnreachableBroker())
		}
	}
}

// settleHosts compares every host's connection with the live loop's view:
// a host that left goes away, one that is back is caught up.
func (r *run) settleHosts(lc *liveCtx) {
	r.mu.Lock()
	dropped := r.dropped
	r.dropped = map[string]bool{}
	r.mu.Unlock()
	marked, err := r.h.db.AwayHosts(r.cfg.Name)
	if err != nil {
		r.log.Error().Err(err).Msg("away hosts")
	}
	r.mu.Lock()
	for h := range r.reset {
		dropped[h] = true // reset-root: caught up anew, as a new host (rootid.go)
	}
	r.reset = map[string]bool{}
	refused := r.rootRefused
	r.mu.Unlock()
	now := time.Now()
	for _, host := range r.hostNames() {
		a := r.away[host]
		up := r.h.connected(host)
		if _, ok := marked[host]; ok && a == nil {
			// Marked by a rename that failed as it left (noteLostRename),
			// or left out of the start-up (a root refused or reset).
			a = r.goAway(host, marked[host])
			if err := refused[host]; err != nil && !dropped[host] {
				a.failed = true // until an operator acts, or it reconnects
				r.setHostError(host, err)
			}
		}
		if dropped[host] || !up {
			switch {
			case a == nil:
				a = r.goAway(host, now)
			case a.catching != nil:
				r.stopCatchUp(a, host)
			}
			// Connecting again retries a failed catch-up at once.
			a.failed, a.retryAt, a.retries = false, time.Time{}, 0
		}
		if up && a != nil && a.catching == nil && a.retryDue(now) && r.catchingUp() == "" {
			r.startCatchUp(lc, host, a)
		}
	}
}

// catchingUp names the host catching up, if one is. Catch-ups go one at a
// time: a round merges its host with the live hosts only, so two at once
// would each take the other for absent. What one sends out would then
// miss the other (live by the time it lands, so never in its ledger), and
// its merge would drop from the index a path only the other holds, which
// the other's next round reads as deleted while it was away and deletes
// (make chaos, seed 1008). One at a time, a host waiting keeps its
// ledger, which the catch-up before it fills.
func (r *run) catchingUp() string {
	for _, h := range r.hostNames() {
		if a := r.away[h]; a != nil && a.catching != nil {
			return h
		}
	}
	return ""
}

// kickHosts has the live loop look at the hosts again: a catch-up ended,
// so the next host waiting may start its own.
func (r *run) kickHosts() {
	select {
	case r.hostKick <- struct{}{}:
	default:
	}
}

// goAway takes host out of the running session.
func (r *run) goAway(host string, since time.Time) *awayHost {
	a := &awayHost{since: since}
	r.away[host] = a
	r.seen.forget(host)
	r.scanned.forget(host)
	if err := r.h.db.MarkAway(r.cfg.Name, host, since); err != nil {
		r.log.Error().Err(err).Str("host", host).Msg("mark away: what changes meanwhile is caught up only by the next session start")
	}
	// Where a live op failed on the host as it left, it kept what the op
	// expected to find: that is its base.
	for p, m := range r.lags {
		l := m[host]
		if l == nil {
			continue
		}
		base := store.AwayBase{}
		if l.have != nil {
			base = store.AwayBase{Had: true, Record: recordOf(*l.have, r.hostNames())}
		}
		if err := r.h.db.NoteAway(r.cfg.Name, host, p, base); err != nil {
			r.log.Error().Err(err).Msg("away ledger")
		}
		r.caughtUp(p, host)
	}
	r.awayLocks(host)
	r.setAwayStatus(host, api.HostAway, since)
	others := r.liveHosts()
	r.log.Warn().Str("host", host).Strs("live", others).Msg("host away: the session goes on without it")
	r.event("away", host, "", fmt.Sprintf("%s left the running session at %s; it goes on with %s, and %s catches up when it returns",
		host, since.Local().Format(time.DateTime), orNone(others), host))
	return a
}

// awayLocks settles the lock table for a host that left: the locks it was
// the source of keep their targets locked for the grace period; it is no
// longer a target (it undoes its target locks when it is attached again)
// nor a writer whose close is awaited.
func (r *run) awayLocks(host string) {
	grace := r.grace()
	until := time.Now().Add(grace)
	var release []*heldLock
	for _, l := range r.locks {
		if l.source == host {
			if grace <= 0 {
				release = append(release, l)
			} else if l.until.IsZero() {
				l.until = until
				r.log.Info().Str("path", l.path).Str("source", host).Time("until", until).Msg("lock held for the grace period")
			}
			continue
		}
		l.targets = slices.DeleteFunc(l.targets, func(t string) bool { return t == host })
		delete(l.writers, host)
		delete(l.closed, host)
	}
	if len(release) > 0 {
		r.releaseLocks(r.h.client(), release, r.releaseReason)
	}
}

// releaseSourced forgets the held locks whose source is host, back: its
// agent undid nothing of them (it held none), and reports again the files
// still open for writing once it is attached; they are locked anew when
// it goes live.
func (r *run) releaseSourced(host string) {
	var back []*heldLock
	for _, l := range r.locks {
		if l.source == host {
			back = append(back, l)
		}
	}
	if len(back) == 0 {
		return
	}
	for _, l := range back {
		r.quarantineSecondWrites(l)
	}
	r.releaseLocks(r.h.client(), back, func(l *heldLock) string {
		return fmt.Sprintf("%s is back within the grace period: released for its catch-up, which locks the file again if it is still open for writing", host)
	})
}

// quarantineSecondWrites puts l's path in the File Conflict List when a
// second writer closed it modified while l's source was away: the lock's
// release for the source's catch-up drops what the close would have
// settled, and the source's own version is known only to its catch-up
// (make chaos, seed 4389: the two versions stayed apart for good). The
// catch-up leaves a quarantined path alone; an operator picks the winner.
func (r *run) quarantineSecondWrites(l *heldLock) {
	var copies []conflict.Copy
	var who []string
	for h, e := range l.closed {
		if h != l.source && e != nil {
			copies = append(copies, conflict.Copy{Host: h, Entry: *e})
			who = append(who, h)
		}
	}
	if len(copies) == 0 {
		return
	}
	slices.Sort(who)
	slices.SortFunc(copies, func(a, b conflict.Copy) int { return strings.Compare(a.Host, b.Host) })
	r.quarantineLive(l.path, conflict.ReasonConcurrentEdit, fmt.Sprintf("modified on %s while %s, which had it open for writing, was away",
		strings.Join(who, " and "), l.source), copies)
}

// liveHosts returns the hosts that take part now.
func (r *run) liveHosts() []string {
	var out []string
	for _, h := range r.hostNames() {
		if r.away[h] == nil {
			out = append(out, h)
		}
	}
	return out
}

// setAwayStatus shows host as state (away or catching up) since then; a
// zero since shows it live again.
func (r *run) setAwayStatus(host, state string, since time.Time) {
	n := 0
	if !since.IsZero() {
		var err error
		if n, err = r.h.db.AwayCount(r.cfg.Name, host); err != nil {
			r.log.Error().Err(err).Msg("away count")
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.h.notify(api.NoticeSessions, r.cfg.Name)
	if hs := r.host[host]; hs != nil {
		hs.State, hs.AwaySince, hs.CatchUp, hs.Error = state, since, int64(n), ""
	}
}

// awayCounts fills in the catch-up counts of the hosts away: read when
// asked, so the status is current however quiet the session is.
func (r *run) awayCounts(st *api.SessionStatus) {
	for i := range st.Hosts {
		if st.Hosts[i].AwaySince.IsZero() {
			continue
		}
		n, err := r.h.db.AwayCount(r.cfg.Name, st.Hosts[i].Host)
		if err != nil {
			r.log.Error().Err(err).Msg("away count")
			continue
		}
		st.Hosts[i].CatchUp = int64(n)
	}
}

func orNone(hosts []string) string {
	if len(hosts) == 0 {
		return "no other host"
	}
	return strings.Join(hosts, ", ")
}
