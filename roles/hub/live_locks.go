package hub

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// heldLock is one file's entry in a session's lock table: its source, and
// the targets holding a lock for it.
type heldLock struct {
	path    string
	source  string
	user    string
	since   time.Time
	targets []string // locked on the source's behalf
	// writers are other hosts that had the file open for writing too (their
	// Opened came second, or their copy could not be locked); closed holds
	// what each of them and the source closed with (nil entry: unmodified).
	writers map[string]bool
	closed  map[string]*wire.Entry
	// until is set while the session is interrupted: the targets stay
	// locked until then, in case the writer comes back (the grace
	// period), and are released then.
	until time.Time
}

// open reports whether any writer, the source included, still has the file
// open for writing.
func (l *heldLock) open() bool {
	if _, ok := l.closed[l.source]; !ok {
		return true
	}
	for w := range l.writers {
		if _, ok := l.closed[w]; !ok {
			return true
		}
	}
	return false
}

// publishLocks copies the lock table for readers outside the live loop.
func (r *run) publishLocks() {
	view := make([]api.Lock, 0, len(r.locks))
	for _, l := range r.locks {
		al := api.Lock{Path: l.path, Source: l.source, User: l.user, Since: l.since, Targets: slices.Clone(l.targets), Until: l.until}
		if !l.until.IsZero() {
			al.Orphaned = !r.h.connected(l.source)
		}
		for w := range l.writers {
			al.Writers = append(al.Writers, w)
		}
		sort.Strings(al.Writers)
		view = append(view, al)
	}
	sort.Slice(view, func(i, j int) bool { return view[i].Path < view[j].Path })
	r.setLockView(view)
}

// opened grants the file to the first host that write-opens it and locks
// every other copy; a second writer is told who holds it.
func (r *run) opened(ctx context.Context, c *broker.Client, in broker.Incoming, m *wire.Opened) {
	host := in.From
	reply := func(msg wire.Message) {
		if in.ID == 0 {
			return // answered when it was queued (see Hub.live)
		}
		if err := c.Reply(ctx, in, msg, nil); err != nil {
			r.log.Debug().Err(err).Msg("opened reply")
		}
	}
	if r.quarantined(m.Path) {
		reply(&wire.Fail{Error: wire.Error{Kind: wire.KindConflict, Op: "open", Path: m.Path,
			Msg: "the file is in the File Conflict List: it is not synchronised until an administrator resolves it"}})
		return
	}
	if l := r.locks[m.Path]; l != nil {
		if l.source == host {
			delete(l.closed, host) // opened again before the last close was seen
			reply(&wire.OK{})
			return
		}
		l.writers[host] = true
		delete(l.closed, host)
		r.event("lock-contended", host, m.Path, fmt.Sprintf("also opened for writing on %s while %s holds it", host, l.source))
		reply(&wire.Fail{Error: wire.Error{Kind: wire.KindBusy, Op: "open", Host: l.source, Path: m.Path,
			Msg: fmt.Sprintf("held by %s (%s) since %s", l.source, l.user, l.since.Format(time.RFC3339))}})
		return
	}
	l := &heldLock{path: m.Path, source: host, user: m.User, since: time.Now(), writers: map[string]bool{}, closed: map[string]*wire.Entry{}}
	r.locks[m.Path] = l
	reply(&wire.OK{})

	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for _, t := range r.otherHosts(host) {
		if !r.h.connected(t) {
			continue
		}
		g.Go(func() error {
			lctx, cancel := context.WithTimeout(gctx, lockTimeout)
			defer cancel()
			_, err := c.Request(lctx, t, &wire.Lock{Session: r.cfg.Name, Path: m.Path, Holder: host, User: m.User}, nil)
			r.unlockLate(ctx, c, t, m.Path, err)
			mu.Lock()
			defer mu.Unlock()
			var we *wire.Error
			switch {
			case err == nil:
				l.targets = append(l.targets, t)
			case errors.As(err, &we) && we.Kind == wire.KindBusy:
				// Open for writing there too: a second writer.
				l.writers[t] = true
				r.event("lock-contended", t, m.Path, fmt.Sprintf("could not be locked on %s: open for writing there", t))
			default:
				r.addError(*wire.ToError("lock", t, m.Path, err))
			}
			return nil
		})
	}
	g.Wait()
	if len(l.targets) > 0 {
		r.h.metrics.Locked(r.cfg.Name, time.Since(l.since))
	}
	r.event("lock", host, m.Path, fmt.Sprintf("opened for writing on %s (%s); locked on %s", host, m.User, strings.Join(slices.Sorted(slices.Values(l.targets)), ", ")))
	r.log.Debug().Str("path", m.Path).Str("source", host).Strs("targets", l.targets).Msg("locked")
}

// closed records a writer's close; once every writer closed, the file is
// settled: one modified copy is propagated, two are a conflict.
func (r *run) closed(ctx context.Context, c *broker.Client, host string, m *wire.Closed) {
	l := r.locks[m.Path]
	if l == nil || (l.source != host && !l.writers[host]) {
		// A close without a granted open (no write-open detection on that
		// host, or the hub restarted meanwhile): a plain change.
		if m.Entry != nil {
			r.changes(ctx, c, host, []wire.Change{{Kind: wire.ChangeWrite, Path: m.Path, Entry: *m.Entry}})
		}
		return
	}
	prior, had, err := r.h.db.Index(r.cfg.Name, m.Path)
	if err != nil {
		had = false
	}
	l.closed[host] = conflict.Closed(m.Entry, prior, had)
	if l.open() {
		return
	}
	delete(r.locks, m.Path)
	d := conflict.SettleClose(l.closed)
	switch d.Kind {
	case conflict.CloseUnchanged:
		r.unlock(ctx, c, l.targets, m.Path)
		r.event("unlock", l.source, m.Path, "closed without changes")
	case conflict.ClosePropagate:
		// The fetch replaces each locked copy and releases its lock; the
		// targets it fails on are unlocked after.
		failed := r.changes(ctx, c, d.Source, []wire.Change{{Kind: wire.ChangeWrite, Path: m.Path, Entry: d.Entry}})
		var still []string
		for _, t := range l.targets {
			if failed[t] || !r.hasEntry(m.Path, t, d.Entry) {
				still = append(still, t)
			}
		}
		r.unlock(ctx, c, still, m.Path)
		r.event("unlock", d.Source, m.Path, fmt.Sprintf("modified on %s and propagated", d.Source))
	case conflict.CloseConflict:
		r.quarantineLive(m.Path, d.Reason, d.Why, d.Copies)
		r.unlock(ctx, c, l.targets, m.Path)
	}
}

// hasEntry reports whether the index says host holds e at path.
func (r *run) hasEntry(path, host string, e wire.Entry) bool {
	rec, ok, err := r.h.db.Index(r.cfg.Name, path)
	return err == nil && ok && rec.Entry == e && slices.Contains(rec.Hosts, host)
}

func (r *run) unlock(ctx context.Context, c *broker.Client, targets []string, path string) {
	var wg sync.WaitGroup
	for _, t := range targets {
		if !r.h.connected(t) {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			uctx, cancel := context.WithTimeout(ctx, lockTimeout)
			defer cancel()
			if _, err := c.Request(uctx, t, &wire.Unlock{Session: r.cfg.Name, Paths: []string{path}}, nil); err != nil {
				r.log.Warn().Err(err).Str("host", t).Str("path", path).Msg("unlock")
			}
		}()
	}
	wg.Wait()
}

// relock locks l's file again on targets, after a new version replaced
// their locked copies. A target that cannot be locked now is left out of
// l's targets (and a busy one is a writer, as in opened).
func (r *run) relock(ctx context.Context, c *broker.Client, l *heldLock, targets []string) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, t := range targets {
		wg.Go(func() {
			lctx, cancel := context.WithTimeout(ctx, lockTimeout)
			defer cancel()
			_, err := c.Request(lctx, t, &wire.Lock{Session: r.cfg.Name, Path: l.path, Holder: l.source, User: l.user}, nil)
			if err == nil {
				return
			}
			r.unlockLate(ctx, c, t, l.path, err)
			mu.Lock()
			defer mu.Unlock()
			l.targets = slices.DeleteFunc(l.targets, func(h string) bool { return h == t })
			var we *wire.Error
			if errors.As(err, &we) && we.Kind == wire.KindBusy {
				l.writers[t] = true
				r.event("lock-contended", t, l.path, fmt.Sprintf("could not be locked again on %s: open for writing there", t))
				return
			}
			r.addError(*wire.ToError("lock", t, l.path, err))
		})
	}
	wg.Wait()
}

// unlockLate undoes, best effort, a lock that target may still take after
// its Lock request timed out here: the request waits in the target's
// queue, and an Unlock sent after it is served after it. Without it the
// target would hold a lock that the table does not list, which no release
// reaches. A target that answered, even with a failure, undid what it had
// done of the lock itself; one the request did not reach (the session
// ending, the connection lost) is settled by its next attachment or by the
// session's end (running.go).
func (r *run) unlockLate(ctx context.Context, c *broker.Client, target, path string, err error) {
	if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		return
	}
	uctx, cancel := context.WithTimeout(ctx, lockTimeout)
	defer cancel()
	if _, err := c.Request(uctx, target, &wire.Unlock{Session: r.cfg.Name, Paths: []string{path}}, nil); err != nil {
		r.log.Warn().Err(err).Str("host", target).Str("path", path).
			Msg("unlock after a lock that timed out: the copy may stay locked until the session attaches the host again")
	}
}

// releaseAll drops the lock table, unlocking every target still connected
// (see releaseLocks).
func (r *run) releaseAll(c *broker.Client) {
	r.releaseLocks(c, r.allLocks(), nil)
}

// releaseLocks drops locks from the table and unlocks their targets that
// are connected, best effort: a target that misses the release undoes its
// locks when the session attaches it again, or when it connects again if
// the session ended meanwhile (running.go). why, if given, says for the
// event log why each was released.
func (r *run) releaseLocks(c *broker.Client, locks []*heldLock, why func(*heldLock) string) {
	if len(locks) == 0 {
		return
	}
	byHost := map[string][]string{}
	var events []store.Event
	for _, l := range locks {
		delete(r.locks, l.path)
		for _, t := range l.targets {
			byHost[t] = append(byHost[t], l.path)
		}
		if why != nil {
			msg := why(l)
			events = append(events, store.Event{Kind: "release", Host: l.source, Path: l.path, Msg: msg})
			r.log.Info().Str("path", l.path).Str("source", l.source).Strs("targets", l.targets).Str("reason", msg).Msg("lock released")
		}
	}
	r.events.add(events...)
	defer r.publishLocks()
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), lockTimeout)
	defer cancel()
	var wg sync.WaitGroup
	for t, paths := range byHost {
		if !r.h.connected(t) {
			continue
		}
		wg.Go(func() {
			for len(paths) > 0 {
				n := min(len(paths), wire.MaxBatch)
				if _, err := c.Request(ctx, t, &wire.Unlock{Session: r.cfg.Name, Paths: paths[:n]}, nil); err != nil {
					r.log.Warn().Err(err).Str("host", t).Msg("release locks")
					return
				}
				paths = paths[n:]
			}
		})
	}
	wg.Wait()
}

// Locks returns a running session's lock table.
func (h *Hub) Locks(name string) ([]api.Lock, error) {
	if _, err := h.config(name); err != nil {
		return nil, err
	}
	r := h.run(name)
	if r == nil {
		return []api.Lock{}, nil
	}
	return r.lockList(), nil
}

// lockList copies the lock table; it asks the live loop, which owns it.
func (r *run) lockList() []api.Lock {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lockView)
}

// moveLocks follows the folder renames of done: a file locked for its
// writer moved with its folder (renamed on another host meanwhile), and
// its writer's close and the targets' copies are at the new path now.
func (r *run) moveLocks(done []conflict.LiveChange) {
	for _, a := range done {
		ch := a.Change
		if ch.Kind != wire.ChangeRename {
			continue
		}
		for p, l := range r.locks {
			np, ok := wire.Moved(p, ch.OldPath, ch.Path)
			if !ok {
				continue
			}
			delete(r.locks, p)
			l.path = np
			r.locks[np] = l
			r.event("lock-moved", l.source, np, fmt.Sprintf("the lock of %s follows its folder, renamed to %s", p, ch.Path))
		}
	}
}
