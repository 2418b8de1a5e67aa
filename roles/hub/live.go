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

// The seed's Steps 2 and 3 on the hub: a running session's file locks and
// the propagation of what users do. One goroutine per running session, the
// live loop, handles every message of that session in arrival order, so the
// lock table and the index change in one order only.

const (
	// liveQueue bounds the messages waiting for a session's live loop. The
	// broker's back-pressure holds senders beyond it.
	liveQueue = 4096
	// lockTimeout bounds a target's answer to a Lock or Unlock.
	lockTimeout = 10 * time.Second
	// changeBatch is how many changes one round of the loop gathers, so a
	// burst (a git checkout, an unzip) goes to each target in few Applies.
	changeBatch = 2048
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

// liveLoop serves the session's live messages until ctx ends. The lock
// table it leaves is the supervisor's: released, or held for the grace
// period if a host went away (see supervise).
func (r *run) liveLoop(ctx context.Context, c *broker.Client) {
	var next *broker.Incoming // taken from the queue too early, served first
	for {
		var in broker.Incoming
		if next != nil {
			in, next = *next, nil
		} else {
			select {
			case in = <-r.liveIn:
			case <-ctx.Done():
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		// Hub.live let only the session's hosts in.
		switch m := in.Msg.(type) {
		case *wire.Opened:
			r.opened(ctx, c, in, m)
		case *wire.Closed:
			r.closed(ctx, c, in.From, m)
		case *wire.Changes:
			// Gather what else this host reported meanwhile, in order, so
			// a burst goes to each target in few Applies.
			batch := slices.Clone(m.Changes)
		gather:
			for len(batch) < changeBatch {
				select {
				case more := <-r.liveIn:
					if mm, ok := more.Msg.(*wire.Changes); ok && more.From == in.From {
						batch = append(batch, mm.Changes...)
						continue
					}
					next = &more
					break gather
				default:
					break gather
				}
			}
			r.changes(ctx, c, in.From, batch)
		}
		r.publishLocks()
	}
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

func (r *run) isHost(host string) bool {
	_, ok := r.host[host]
	return ok
}

func (r *run) refuse(ctx context.Context, c *broker.Client, in broker.Incoming, e *wire.Error) {
	if in.ID == 0 {
		return
	}
	e.Op = string(in.Type)
	if err := c.Reply(ctx, in, &wire.Fail{Error: *e}, nil); err != nil {
		r.log.Debug().Err(err).Msg("live reply")
	}
}

func (r *run) otherHosts(host string) []string {
	var out []string
	for _, hr := range r.cfg.Hosts {
		if hr.Host != host {
			out = append(out, hr.Host)
		}
	}
	return out
}

func (r *run) event(kind, host, path, msg string) {
	r.events.add(store.Event{Kind: kind, Host: host, Path: path, Msg: msg})
}

func (r *run) quarantined(path string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return underAny(path, r.quarantine)
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
	e := m.Entry
	if e != nil {
		// The agent reports a close as modified when it cannot tell
		// otherwise (a file too new for its scan cache); a copy equal to
		// the index is no modification: nothing is sent, and no fetch
		// releases the targets' locks, so the close must.
		if prior, had, err := r.h.db.Index(r.cfg.Name, m.Path); err == nil && had && prior.Entry == *e {
			e = nil
		}
	}
	l.closed[host] = e
	if l.open() {
		return
	}
	delete(r.locks, m.Path)
	var modified []string
	for h, e := range l.closed {
		if e != nil {
			modified = append(modified, h)
		}
	}
	sort.Strings(modified)
	switch len(modified) {
	case 0:
		r.unlock(ctx, c, l.targets, m.Path)
		r.event("unlock", l.source, m.Path, "closed without changes")
	case 1:
		src := modified[0]
		e := *l.closed[src]
		// The fetch replaces each locked copy and releases its lock; the
		// targets it fails on are unlocked after.
		failed := r.changes(ctx, c, src, []wire.Change{{Kind: wire.ChangeWrite, Path: m.Path, Entry: e}})
		var still []string
		for _, t := range l.targets {
			if failed[t] || !r.hasEntry(m.Path, t, e) {
				still = append(still, t)
			}
		}
		r.unlock(ctx, c, still, m.Path)
		r.event("unlock", src, m.Path, fmt.Sprintf("modified on %s and propagated", src))
	default:
		copies := make([]conflict.Copy, 0, len(modified))
		for _, h := range modified {
			copies = append(copies, conflict.Copy{Host: h, Entry: *l.closed[h]})
		}
		r.quarantineLive(m.Path, conflict.ReasonConcurrentEdit,
			fmt.Sprintf("modified at the same time on %s", strings.Join(modified, " and ")), copies)
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

// releaseAll drops the lock table, unlocking every target still connected
// (see releaseLocks).
func (r *run) releaseAll(c *broker.Client) {
	r.releaseLocks(c, r.allLocks(), nil)
}

// releaseLocks drops locks from the table and unlocks their targets that
// are connected, best effort: a target that misses the release undoes its
// locks when the session attaches it again. why, if given, says for the
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

func (r *run) quarantineLive(path string, reason conflict.Reason, detail string, copies []conflict.Copy) {
	q := store.Quarantine{Quarantine: conflict.Quarantine{Path: path, Reason: reason, Detail: detail, Copies: copies}}
	if err := r.h.db.PutQuarantines(r.cfg.Name, []store.Quarantine{q}); err != nil {
		r.log.Error().Err(err).Msg("quarantine")
		return
	}
	r.mu.Lock()
	if !r.quarantine[path] {
		r.quarantine[path] = true
		r.st.Quarantined++
	}
	r.mu.Unlock()
	r.h.notify(api.NoticeConflicts, r.cfg.Name)
	r.event("conflict", "", path, detail)
	r.log.Warn().Str("path", path).Str("reason", string(reason)).Str("detail", detail).Msg("quarantined")
}

// changes propagates what host's users did to every other host, in order,
// and keeps the index current. It returns the hosts on which some op
// failed.
func (r *run) changes(ctx context.Context, c *broker.Client, host string, batch []wire.Change) map[string]bool {
	targets := r.otherHosts(host)
	ops := map[string][]wire.Op{}
	type applied struct {
		change wire.Change
		prior  conflict.Record // the index before
		had    bool
	}
	var done []applied
	for _, ch := range batch {
		if r.quarantined(ch.Path) || (ch.Kind == wire.ChangeRename && r.quarantined(ch.OldPath)) {
			continue
		}
		key := ch.Path
		if ch.Kind == wire.ChangeRename {
			key = ch.OldPath
		}
		prior, had, err := r.h.db.Index(r.cfg.Name, key)
		if err != nil {
			r.log.Error().Err(err).Msg("index")
			continue
		}
		if echo(ch, prior, had) {
			continue
		}
		if l := r.locks[ch.Path]; l != nil && l.source != host {
			// A change to a file another host holds: a second writer.
			l.writers[host] = true
			if ch.Kind == wire.ChangeWrite {
				e := ch.Entry
				l.closed[host] = &e
			}
			continue
		}
		for _, t := range targets {
			var have *wire.Entry
			if had && slices.Contains(prior.Hosts, t) {
				e := prior.Entry
				have = &e
			}
			var op wire.Op
			switch ch.Kind {
			case wire.ChangeWrite:
				op = wire.Op{Kind: wire.OpFetch, Path: ch.Path, From: host, Want: ch.Entry, Have: have}
			case wire.ChangeMkdir:
				op = wire.Op{Kind: wire.OpMkdir, Path: ch.Path, Want: ch.Entry}
			case wire.ChangeMeta:
				op = wire.Op{Kind: wire.OpMeta, Path: ch.Path, Want: ch.Entry, Have: have}
			case wire.ChangeRemove:
				if have == nil {
					continue
				}
				op = wire.Op{Kind: wire.OpDelete, Path: ch.Path, Have: have}
			case wire.ChangeRename:
				if have == nil {
					// Nothing there to move: the moved path arrives whole.
					if ch.Entry.Kind == wire.KindDir {
						op = wire.Op{Kind: wire.OpMkdir, Path: ch.Path, Want: ch.Entry}
					} else {
						op = wire.Op{Kind: wire.OpFetch, Path: ch.Path, From: host, Want: ch.Entry}
					}
					break
				}
				op = wire.Op{Kind: wire.OpRename, Path: ch.Path, OldPath: ch.OldPath, Want: ch.Entry, Have: have}
			}
			ops[t] = append(ops[t], op)
		}
		done = append(done, applied{change: ch, prior: prior, had: had})
	}
	if len(done) == 0 {
		return nil
	}

	// Every target applies its ops; results say who now holds what.
	var mu sync.Mutex
	ok := map[string]map[string]bool{} // path -> host -> applied
	failed := map[string]bool{}
	var conflicts []wire.Error
	g, gctx := errgroup.WithContext(ctx)
	for t, list := range ops {
		if !r.h.connected(t) {
			failed[t] = true
			continue
		}
		g.Go(func() error {
			for len(list) > 0 {
				n := min(len(list), wire.MaxBatch)
				err := r.applyOps(gctx, c, t, list[:n], func(results []wire.OpResult) error {
					mu.Lock()
					defer mu.Unlock()
					for _, res := range results {
						if res.Error != nil {
							e := *res.Error
							e.Host = t
							failed[t] = true
							if e.Kind == wire.KindChanged {
								conflicts = append(conflicts, e)
							} else {
								r.addError(e)
							}
							continue
						}
						if ok[res.Path] == nil {
							ok[res.Path] = map[string]bool{}
						}
						ok[res.Path][t] = true
					}
					return nil
				})
				if err != nil {
					mu.Lock()
					failed[t] = true
					r.addError(*wire.ToError("apply", t, "", err))
					mu.Unlock()
					return nil
				}
				list = list[n:]
			}
			return nil
		})
	}
	g.Wait()

	// The index follows: the source holds the new state, and every target
	// whose op succeeded.
	for _, a := range done {
		ch := a.change
		switch ch.Kind {
		case wire.ChangeRemove:
			var left []string
			if a.had {
				for _, h := range a.prior.Hosts {
					if h != host && !ok[ch.Path][h] {
						left = append(left, h)
					}
				}
			}
			if len(left) == 0 {
				r.forget(ch.Path)
			} else if err := r.h.db.PutIndex(r.cfg.Name, []conflict.Record{{Entry: a.prior.Entry, Hosts: left}}); err != nil {
				r.log.Error().Err(err).Msg("index")
			}
		default:
			if ch.Kind == wire.ChangeRename {
				// What the destination held is replaced; the records
				// below the old path move with it (a folder's files).
				r.forget(ch.Path)
				if _, err := r.h.db.MoveIndex(r.cfg.Name, ch.OldPath, ch.Path); err != nil {
					r.log.Error().Err(err).Msg("index")
				}
			}
			hosts := []string{host}
			for _, t := range targets {
				if ok[ch.Path][t] {
					hosts = append(hosts, t)
				}
			}
			if err := r.h.db.PutIndex(r.cfg.Name, []conflict.Record{{Entry: ch.Entry, Hosts: hosts}}); err != nil {
				r.log.Error().Err(err).Msg("index")
			}
		}
		r.update(func(st *api.SessionStatus) {
			if ch.Kind == wire.ChangeWrite {
				st.Live.Files++
				st.Live.Bytes += ch.Entry.Size
			}
			st.Live.Changes++
		})
	}
	sent := make([]wire.Change, len(done))
	for i, a := range done {
		sent[i] = a.change
	}
	r.recordTransfer(host, targets, sent, failed)
	// A target whose copy changed under the op edited it at the same time:
	// both versions are kept and the path goes to the File Conflict List.
	for _, e := range conflicts {
		r.quarantineLive(e.Path, conflict.ReasonConcurrentEdit,
			fmt.Sprintf("changed on %s while %s's change was being applied: %s", e.Host, host, e.Msg), nil)
	}
	// A save by a source that keeps the file open (an office document,
	// whose lock file stays): the fetch replaced each locked copy and so
	// released its lock; the new copy is locked again.
	for _, a := range done {
		ch := a.change
		if l := r.locks[ch.Path]; ch.Kind == wire.ChangeWrite && l != nil && l.source == host && !r.quarantined(ch.Path) {
			var relock []string
			for _, t := range l.targets {
				if ok[ch.Path][t] {
					relock = append(relock, t)
				}
			}
			r.relock(ctx, c, l, relock)
		}
	}
	return failed
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

// forget drops path's record and everything below it.
func (r *run) forget(path string) {
	paths := []string{path}
	err := r.h.db.ForEachIndex(r.cfg.Name, path+"/", func(rec conflict.Record) error {
		paths = append(paths, rec.Entry.Path)
		return nil
	})
	if err == nil {
		err = r.h.db.DeleteIndex(r.cfg.Name, paths)
	}
	if err != nil {
		r.log.Error().Err(err).Msg("index")
	}
}

// echo reports a change that only repeats what the index already holds:
// a target reporting the op the hub had it apply, or a touch that changed
// nothing. Propagating it would bounce between hosts.
func echo(ch wire.Change, prior conflict.Record, had bool) bool {
	switch ch.Kind {
	case wire.ChangeRemove:
		return !had
	case wire.ChangeRename:
		return false
	default:
		return had && prior.Entry == ch.Entry
	}
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

// recordTransfer writes one event for a propagated batch: how much went
// from host to which targets, and where it failed. One per batch, not per
// file, so that an unzip of thousands of files is one line of the log.
func (r *run) recordTransfer(host string, targets []string, applied []wire.Change, failed map[string]bool) {
	if len(applied) == 0 {
		return
	}
	var files, bytes, other int64
	for _, ch := range applied {
		if ch.Kind == wire.ChangeWrite {
			files++
			bytes += ch.Entry.Size
		} else {
			other++
		}
	}
	var reached, missed []string
	for _, t := range targets {
		if failed[t] {
			missed = append(missed, t)
			continue
		}
		reached = append(reached, t)
	}
	var what []string
	if files > 0 {
		what = append(what, fmt.Sprintf("%d file(s), %d bytes", files, bytes))
	}
	if other > 0 {
		what = append(what, fmt.Sprintf("%d other change(s)", other))
	}
	msg := fmt.Sprintf("%s from %s", strings.Join(what, " and "), host)
	if len(reached) > 0 {
		msg += " to " + strings.Join(reached, ", ")
	}
	if len(missed) > 0 {
		msg += "; failed on " + strings.Join(missed, ", ") + " (see the session's errors)"
	}
	var path string
	if len(applied) == 1 {
		path = applied[0].Path
	}
	r.event("transfer", host, path, msg)
}
