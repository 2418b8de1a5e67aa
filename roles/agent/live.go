package agent

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/sync/lock"
	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/sync/watch"
	"github.com/peerlink/peerlink/wire"
)

// The seed's Steps 2 and 3 on an agent: while a session is attached, the
// agent watches its root and tells the hub what users do (write-opens,
// closes, creates, deletes, renames), and locks its copies for writers on
// other hosts. The hub decides; the agent reports and enforces.

const (
	// settle is how long a created or modified file, not open for writing,
	// is left alone before it is reported, so that a file being copied in
	// is sent once, whole. A writer the detector saw is reported at its
	// close, without it; this is mostly a file written and closed faster
	// than its writer could be named, which is whole already. Every small
	// change waits it out: at 150 ms it was most of make bench's live
	// change latency (p50 164 ms of a 250 ms goal).
	settle = 50 * time.Millisecond
	// flushAfter batches changes: they go to the hub when this long passed
	// without a new one, or when changesPerMessage gathered.
	flushAfter        = 20 * time.Millisecond
	changesPerMessage = 512
	// expectFor is how long an expectation of the agent's own change stays,
	// after the op that made it.
	expectFor = 30 * time.Second
	// openTimeout bounds the hub's answer to a write-open.
	openTimeout = 10 * time.Second
)

// live is one attached session's watcher, locker and reporting loop.
type live struct {
	a      *Agent
	s      *attached
	c      *broker.Client
	w      *watch.Watcher
	locker *lock.Locker

	mu     sync.Mutex
	expect map[string]expectation // the agent's own changes, not to be reported

	// Below: owned by the loop goroutine.
	opened  map[string]bool      // write-opens reported to the hub and not closed yet
	viaLock map[string]string    // documents opened per an office lock file: their lock file
	settle  map[string]time.Time // files waiting to be reported, by when
	settleQ []settleItem         // the same, in the order they are due
	pruned  time.Time            // when expired expectations were last dropped
	pending []wire.Change
	// cache holds the scan cache records to write at the next flush (nil:
	// delete the path's record): one bbolt commit, and its fsync, for a
	// burst rather than one per file.
	cache map[string]*store.CachedPath
	rs    rescans // see rescan.go
	done  chan struct{}
}

// expectation is what a path will look like after an op of the agent's
// own: an event that finds it so is an echo.
type expectation struct {
	gone  bool       // deleted or moved away
	dir   bool       // a folder
	entry wire.Entry // a file: its size and mtime
	until time.Time
}

// startLive starts watching s's root. A root that cannot be watched still
// synchronises at every start; its live changes are missed, which the
// status says.
func (a *Agent) startLive(ctx context.Context, c *broker.Client, s *attached) (*live, error) {
	locker, err := lock.New(s.tree, a.db, s.name, lock.Options{
		Warn: func(path string, err error) {
			a.log.Warn().Str("session", s.name).Str("path", path).Err(err).Msg("lock")
		},
	})
	if err != nil {
		return nil, err
	}
	// A new attachment: the hub holds no lock on this host's behalf yet,
	// so every lock left by an earlier attachment (or a crash) is undone.
	if err := locker.Reconcile(func(string) bool { return false }); err != nil {
		a.log.Error().Err(err).Str("session", s.name).Msg("undo stale locks")
	}
	l := &live{a: a, s: s, c: c, locker: locker, expect: map[string]expectation{},
		opened: map[string]bool{}, viaLock: map[string]string{}, settle: map[string]time.Time{},
		cache: map[string]*store.CachedPath{}, rs: newRescans(a.cfg.RescanInterval), done: make(chan struct{})}
	w, err := watch.New(ctx, s.root, watch.Options{Filter: s.filter, IgnorePid: os.Getpid()})
	switch {
	case errors.Is(err, watch.ErrWatchLimit):
		l.rs.noWatch = err // not even the root: periodic scans alone
	case err != nil:
		close(l.done)
		return l, err
	}
	l.w = w
	go l.loop(ctx)
	return l, nil
}

// stop ends the loop; locks stay journaled for the next attachment.
func (l *live) stop() {
	if l.w != nil {
		l.w.Close()
	}
	<-l.done
}

// expectChange registers an op's result before the op runs.
func (l *live) expectChange(path string, e expectation) {
	if l == nil {
		return
	}
	e.until = time.Now().Add(expectFor)
	l.mu.Lock()
	l.expect[path] = e
	l.mu.Unlock()
}

// echo reports whether path is as the agent's own recent op left it.
func (l *live) echo(path string) bool {
	l.mu.Lock()
	e, ok := l.expect[path]
	if ok && time.Now().After(e.until) {
		delete(l.expect, path)
		ok = false
	}
	l.mu.Unlock()
	if !ok {
		return false
	}
	info, err := l.s.tree.Lstat(path)
	switch {
	case e.gone:
		return errors.Is(err, fs.ErrNotExist)
	case err != nil:
		return false
	case e.dir:
		return info.Kind == wire.KindDir
	}
	return info.Kind == wire.KindFile && info.Size == e.entry.Size && info.Mtime == e.entry.Mtime
}

func (l *live) loop(ctx context.Context) {
	defer close(l.done)
	l.rs.start(ctx)
	defer l.rs.stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var events <-chan watch.Event
	if l.w != nil {
		events = l.w.Events()
	} else {
		l.limited(ctx, l.rs.noWatch)
	}
	for {
		l.arm(timer)
		select {
		case ev, ok := <-events:
			if !ok {
				if err := l.w.Err(); err != nil && ctx.Err() == nil {
					l.a.log.Error().Err(err).Str("session", l.s.name).
						Msg("watching stopped: changes are no longer seen live; they are picked up when the session starts again")
				}
				l.flush(ctx)
				return
			}
			for _, e := range l.lookAhead(ev) {
				l.handle(ctx, e)
			}
		case m := <-l.rs.out:
			l.rescanned(ctx, m)
		case <-l.rs.tick():
			l.rescan("periodic scan: a watch limit was reached")
		case <-timer.C:
			l.due(ctx)
		case <-ctx.Done():
			return
		}
	}
}

// lookAhead returns the events to handle for ev. A WriteOpen whose Closed
// is already queued right behind it was over before it was seen (a file
// written faster than the detector could name its writer: an unzip, a
// copy): there is nothing left to lock, and the file is reported as a
// plain change, batched with the rest of a burst, rather than costing a
// lock and an unlock on every target through the hub, one file at a time.
func (l *live) lookAhead(ev watch.Event) []watch.Event {
	if ev.Op != watch.WriteOpen || ev.LockFile != "" || ev.IsDir || l.opened[ev.Path] || l.locker.Locked(ev.Path) {
		return []watch.Event{ev}
	}
	select {
	case next, ok := <-l.w.Events():
		if !ok {
			return []watch.Event{ev} // the next receive sees the end
		}
		if next.Op == watch.Closed && next.Path == ev.Path && next.LockFile == "" {
			return []watch.Event{{Op: watch.Changed, Path: ev.Path}}
		}
		return []watch.Event{ev, next}
	default:
		return []watch.Event{ev}
	}
}

// arm sets the timer to the next settled file or batch flush. Settle
// times only grow, so the queue's head is the next one: no walk over a
// burst's thousands of pending files at every event.
func (l *live) arm(t *time.Timer) {
	next := time.Time{}
	for len(l.settleQ) > 0 {
		head := l.settleQ[0]
		if at, ok := l.settle[head.path]; ok && at.Equal(head.at) {
			next = head.at
			break
		}
		l.settleQ = l.settleQ[1:] // reported, or queued again later
	}
	if len(l.pending) > 0 || len(l.cache) > 0 {
		if at := time.Now().Add(flushAfter); next.IsZero() || at.Before(next) {
			next = at
		}
	}
	d := time.Hour
	if !next.IsZero() {
		d = max(time.Until(next), time.Millisecond)
	}
	t.Reset(d)
}

func (l *live) due(ctx context.Context) {
	now := time.Now()
	for len(l.settleQ) > 0 && !l.settleQ[0].at.After(now) {
		head := l.settleQ[0]
		l.settleQ = l.settleQ[1:]
		if at, ok := l.settle[head.path]; !ok || !at.Equal(head.at) {
			continue
		}
		delete(l.settle, head.path)
		l.report(head.path)
		if len(l.pending) >= changesPerMessage {
			l.flush(ctx)
		}
	}
	if now.Sub(l.pruned) > expectFor {
		l.pruned = now
		l.mu.Lock()
		for p, e := range l.expect {
			if now.After(e.until) {
				delete(l.expect, p)
			}
		}
		l.mu.Unlock()
	}
	l.flush(ctx)
}

func (l *live) handle(ctx context.Context, ev watch.Event) {
	switch ev.Op {
	case watch.Overflow:
		// Rescanned in place: the session goes on (rescan.go).
		l.a.log.Warn().Str("session", l.s.name).Msg("file system events were lost: rescanning the root")
		l.rescan("events were lost")
		return
	case watch.Limited:
		l.limited(ctx, ev.Err)
		return
	}
	if l.locker.OwnLockFile(ev.Path) || (ev.LockFile != "" && l.locker.OwnLockFile(ev.LockFile)) {
		return
	}
	switch ev.Op {
	case watch.WriteOpen:
		if ev.IsDir || l.opened[ev.Path] {
			return
		}
		if ev.LockFile != "" {
			l.viaLock[ev.Path] = ev.LockFile
		}
		l.opened[ev.Path] = true
		delete(l.settle, ev.Path)
		l.flush(ctx) // what happened before the open reaches the hub first
		rctx, cancel := context.WithTimeout(ctx, openTimeout)
		_, err := l.c.Request(rctx, wire.HubName, &wire.Opened{Session: l.s.name, Path: ev.Path, User: ev.User}, nil)
		cancel()
		if err != nil {
			l.a.log.Info().Str("session", l.s.name).Str("path", ev.Path).Err(err).Msg("write-open not granted")
		}
	case watch.Closed:
		if lf, ok := l.viaLock[ev.Path]; ok && ev.LockFile != lf {
			return // a save while the document stays open in its application
		}
		if !l.opened[ev.Path] {
			l.later(ev.Path)
			return
		}
		delete(l.opened, ev.Path)
		delete(l.viaLock, ev.Path)
		e, modified := l.entry(ev.Path)
		m := &wire.Closed{Session: l.s.name, Path: ev.Path}
		if modified && e.Kind == wire.KindFile {
			m.Entry = &e
		}
		l.flush(ctx)
		if err := l.c.Send(ctx, wire.HubName, m, nil); err != nil {
			l.a.log.Debug().Err(err).Msg("closed")
		}
	case watch.Created, watch.Changed:
		if l.echo(ev.Path) {
			return
		}
		if ev.Op == watch.Changed && l.locker.Locked(ev.Path) {
			return // the lock's own mode and flag changes; nobody else can change it
		}
		if ev.IsDir {
			if info, err := l.s.tree.Lstat(ev.Path); err == nil && info.Kind == wire.KindDir {
				kind := wire.ChangeMkdir
				if ev.Op == watch.Changed {
					kind = wire.ChangeMeta
				}
				l.add(ctx, wire.Change{Kind: kind, Path: ev.Path, Entry: info.Entry(ev.Path)})
			}
			return
		}
		if l.opened[ev.Path] {
			if _, ok := l.viaLock[ev.Path]; !ok {
				return // its close reports it
			}
		}
		l.later(ev.Path)
	case watch.Removed:
		delete(l.settle, ev.Path)
		if l.echo(ev.Path) {
			return
		}
		l.cache[ev.Path] = nil
		l.add(ctx, wire.Change{Kind: wire.ChangeRemove, Path: ev.Path})
	case watch.Renamed:
		delete(l.settle, ev.OldPath)
		if l.echo(ev.Path) && l.echo(ev.OldPath) {
			return
		}
		if _, ok := l.viaLock[ev.Path]; ok {
			return // an application saving by rename over the open document
		}
		info, err := l.s.tree.Lstat(ev.Path)
		if err != nil {
			return
		}
		if info.Kind == wire.KindFile {
			// The content may be new (an editor's temp file renamed over
			// the original): report it as a write once settled, plus the
			// removal of the old name.
			l.add(ctx, wire.Change{Kind: wire.ChangeRemove, Path: ev.OldPath})
			l.later(ev.Path)
			return
		}
		l.add(ctx, wire.Change{Kind: wire.ChangeRename, Path: ev.Path, OldPath: ev.OldPath, Entry: info.Entry(ev.Path)})
	}
}

// later reports path once it settled.
func (l *live) later(path string) {
	at := time.Now().Add(settle)
	l.settle[path] = at
	l.settleQ = append(l.settleQ, settleItem{path, at})
}

// settleItem is a file waiting in the settle queue, in time order.
type settleItem struct {
	path string
	at   time.Time
}

// report queues path's change, if its content or metadata differs from
// what the agent last knew.
func (l *live) report(path string) {
	if l.echo(path) {
		return
	}
	if l.locker.Locked(path) {
		return // the lock's mode and flag, not a user's change
	}
	info, err := l.s.tree.Lstat(path)
	if err != nil || info.Kind != wire.KindFile {
		return
	}
	e, modified := l.entry(path)
	switch {
	case modified:
		l.pending = append(l.pending, wire.Change{Kind: wire.ChangeWrite, Path: path, Entry: e})
	case e.Kind == wire.KindFile:
		// The same content, but the inode changed (a chmod, a touch to
		// the same time): the mode may be new. The hub drops it if the
		// index holds the same.
		l.pending = append(l.pending, wire.Change{Kind: wire.ChangeMeta, Path: path, Entry: e})
	}
}

// entry returns path's current entry, hashing it unless the scan cache
// says it is unchanged, and whether it differs from the cache. An entry
// that is not modified is returned (with its hash) when the inode changed
// all the same, the zero Entry when the cache says nothing changed.
func (l *live) entry(path string) (wire.Entry, bool) {
	info, err := l.s.tree.Lstat(path)
	if err != nil || info.Kind != wire.KindFile {
		return wire.Entry{}, false
	}
	e := info.Entry(path)
	var c store.Cached
	cp, cached := l.cache[path]
	if cached {
		cached = cp != nil
		if cached {
			c = cp.Cached
		}
	} else {
		c, cached = l.a.db.Cached(l.s.name, path)
	}
	if cached && c.Size == info.Size && c.Mtime == info.Mtime && c.Ctime == info.Ctime && c.Ino == info.Ino {
		return wire.Entry{}, false
	}
	h, err := hashFile(l.s.tree, path)
	if err != nil {
		return wire.Entry{}, false
	}
	e.Hash = h
	l.cache[path] = &store.CachedPath{Path: path, Cached: store.Cached{Size: info.Size, Mtime: info.Mtime, Ctime: info.Ctime, Ino: info.Ino, Hash: e.Hash}}
	// Only the inode's change time moved (a chmod back and forth, a hard
	// link): the same content at the same time is no modification.
	return e, !cached || c.Hash != h || c.Size != info.Size || c.Mtime != info.Mtime
}

func hashFile(t *tree.Tree, path string) (wire.Hash, error) {
	f, err := t.OpenRead(path)
	if err != nil {
		return wire.Hash{}, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return wire.Hash{}, err
	}
	var sum wire.Hash
	h.Sum(sum[:0])
	return sum, nil
}

func (l *live) add(ctx context.Context, ch wire.Change) {
	l.pending = append(l.pending, ch)
	if len(l.pending) >= changesPerMessage {
		l.flush(ctx)
	}
}

// flush writes the scan cache records and sends the queued changes.
func (l *live) flush(ctx context.Context) {
	if len(l.cache) > 0 {
		var changed []store.CachedPath
		var removed []string
		for p, cp := range l.cache {
			if cp == nil {
				removed = append(removed, p)
			} else {
				changed = append(changed, *cp)
			}
		}
		clear(l.cache)
		if err := l.a.db.UpdateCache(l.s.name, changed, removed); err != nil {
			l.a.log.Debug().Err(err).Msg("scan cache")
		}
	}
	if len(l.pending) == 0 {
		return
	}
	batch := l.pending
	l.pending = nil
	if err := l.c.Send(ctx, wire.HubName, &wire.Changes{Session: l.s.name, Changes: batch}, nil); err != nil {
		l.a.log.Warn().Err(err).Str("session", l.s.name).Int("changes", len(batch)).Msg("report changes")
	}
}

// lockCopy locks this host's copy for a writer elsewhere. A path this host
// does not have needs no lock.
func (a *Agent) lockCopy(m *wire.Lock) error {
	s, err := a.session(m.Session)
	if err != nil {
		return err
	}
	if s.live == nil {
		return &wire.Error{Kind: wire.KindInvalid, Msg: "live synchronisation is not running on this host"}
	}
	if _, err := s.tree.Lstat(m.Path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return s.live.locker.Lock(m.Path, lock.Holder{Host: m.Holder, User: m.User})
}

func (a *Agent) unlockCopies(m *wire.Unlock) error {
	s, err := a.session(m.Session)
	if err != nil {
		return err
	}
	if s.live == nil {
		return nil
	}
	var first error
	for _, p := range m.Paths {
		if err := s.live.locker.Unlock(p); err != nil && first == nil {
			first = err
		}
	}
	return first
}
