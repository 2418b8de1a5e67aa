package agent

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/sync/lock"
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
	// removed are the users' removals lately (removed.go).
	removed removals
	// sent are the paths reported lately; moves are the hub's folder
	// renames applied here that the loop has not followed yet, and kick
	// tells it to (moved.go).
	sent  sentLog
	moves []hubMove
	// unwatched are the hub's folder renames applied here whose own event
	// the loop has not seen yet (moved_events.go).
	unwatched []*unwatchedMove
	// userMoves are the users' folder renames lately, vanished the files
	// found gone as they were to be reported (usermoved.go).
	userMoves []userMove
	vanished  map[string]time.Time
	// reopen are the write-opens the hub's folder renames moved, old path
	// then new, to report again (reannounce).
	reopen [][2]string
	kick   chan struct{}
	// marks are whole scans' requests to report what the loop handled
	// before they walk (scanmark.go).
	marks chan scanMark

	// Below: owned by the loop goroutine.
	opened  *openSet             // write-opens reported to the hub and not closed yet
	viaLock map[string]string    // documents opened per an office lock file: their lock file
	settle  map[string]time.Time // files waiting to be reported, by when
	settleQ []settleItem         // the same, in the order they are due
	pruned  time.Time            // when expired expectations were last dropped
	// opensLostWarned is when the loss of write-opens was last logged.
	opensLostWarned time.Time
	pending         []wire.Change
	seq             uint64 // the last Changes' Seq
	// cache holds the scan cache records to write at the next flush (nil:
	// delete the path's record): one bbolt commit, and its fsync, for a
	// burst rather than one per file.
	cache map[string]*store.CachedPath
	rs    rescans // see rescan.go
	// warned are the paths warned about as skipped, warnings those not
	// sent yet (see warnSkipped).
	warned   map[string]bool
	warnings []string
	done     chan struct{}
}

// expectation is what a path will look like after an op of the agent's
// own: an event that finds it so is an echo.
type expectation struct {
	gone  bool       // deleted or moved away
	dir   bool       // a folder
	entry wire.Entry // a file: its size and mtime
	// earlier are the versions of the file that ops before this one left:
	// a fetch that follows another at once (a writer elsewhere saving
	// again and again) must not make the first one's result, seen late,
	// look like a user's change.
	earlier []wire.Entry
	// goneFirst: an op just before this one removed the path (a folder
	// replaced by a file as a resolution or a start wants it), so its
	// removal, seen before the new one is in place, is the agent's own
	// too.
	goneFirst bool
	// mode: the op put a file in place with entry's mode at once (a
	// fetch renames it in whole), so a mode other than that is a user's
	// chmod made right after it (make chaos, seed 3001), not an echo. A
	// rename leaves the mode as it was; a folder's is not compared.
	mode  bool
	until time.Time
}

// maxEarlier bounds the earlier versions an expectation keeps.
const maxEarlier = 8

// startLive starts watching s's root. A root that cannot be watched still
// synchronises at every start; its live changes are missed, which the
// status says.
// openRecheck is how often the files reported open for writing are checked
// for a close the watcher did not see; each check is a lease attempt per
// such file.
const openRecheck = 3 * time.Second

func (a *Agent) startLive(ctx context.Context, c *broker.Client, s *attached) (*live, error) {
	locker, err := a.newLocker(s.tree, s.name)
	if err != nil {
		return nil, err
	}
	// A new attachment: the hub holds no lock on this host's behalf yet,
	// so every lock left by an earlier attachment (or a crash) is undone.
	if err := locker.Reconcile(func(string) bool { return false }); err != nil {
		a.log.Error().Err(err).Str("session", s.name).Msg("undo stale locks")
	}
	l := &live{a: a, s: s, c: c, locker: locker, expect: map[string]expectation{},
		opened: newOpenSet(), viaLock: map[string]string{}, settle: map[string]time.Time{},
		cache: map[string]*store.CachedPath{}, rs: newRescans(a.cfg.RescanInterval), done: make(chan struct{}),
		warned: map[string]bool{}, kick: make(chan struct{}, 1), marks: make(chan scanMark),
		// Above the last attachment's numbers, which the hub may still
		// hold for this host.
		seq: uint64(time.Now().UnixNano())}
	w, err := watch.New(ctx, s.root, watch.Options{Filter: s.filter, IgnorePid: os.Getpid(), Tree: a.cfg.WatchTree})
	if err == nil {
		a.logWatching(s.name, w)
	}
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
	now := time.Now()
	e.until = now.Add(expectFor)
	l.mu.Lock()
	if old, ok := l.expect[path]; ok && now.Before(old.until) {
		if isFile(old) && isFile(e) {
			e.earlier = append(slices.Clip(old.earlier), old.entry)
			if len(e.earlier) > maxEarlier {
				e.earlier = e.earlier[len(e.earlier)-maxEarlier:]
			}
		}
		e.goneFirst = !e.gone && (old.gone || old.goneFirst)
	}
	l.expect[path] = e
	l.mu.Unlock()
}

func isFile(e expectation) bool { return !e.gone && !e.dir }

// goneAbove returns the expectation of a folder above path that an op of
// the agent's removed, if any; l.mu is held.
func (l *live) goneAbove(path string, now time.Time) (expectation, bool) {
	for dir := wire.Parent(path); dir != ""; dir = wire.Parent(dir) {
		if d, ok := l.expect[dir]; ok && d.gone && now.Before(d.until) {
			return d, true
		}
	}
	return expectation{}, false
}

// forgetExpected drops what the agent's ops led it to expect at path and
// below (dir), which a user removed, or an op of the hub's deletes or
// moves away: what appears there next is the user's,
// even if it looks like what an op left (make chaos, seed 2259: a folder
// the hub had made, removed and made again by a user within expectFor,
// was taken for the hub's, and its files reached the hub without it).
func (l *live) forgetExpected(path string, dir bool) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.expect, path)
	if !dir {
		return
	}
	prefix := path + "/"
	for p := range l.expect {
		if strings.HasPrefix(p, prefix) {
			delete(l.expect, p)
		}
	}
}

// inPlace records that the creation of what an op of the agent's made at
// path was seen. The watcher reports in order, so the removal an op made
// there before it (expectation.goneFirst) was seen already: a removal seen
// from now on is a user's (make chaos, seed 100062: a folder the hub
// removed and made again on site-b, then deleted there by a user, was
// taken for the echo of the hub's removal, and stayed everywhere else).
func (l *live) inPlace(path string) {
	l.mu.Lock()
	if e, ok := l.expect[path]; ok && e.goneFirst {
		e.goneFirst = false
		l.expect[path] = e
	}
	l.mu.Unlock()
}

// forgetGone forgets that an op of the agent's removed path or moved it
// away, once something not the agent's made it again: a user, since an op
// that makes it expects that instead. Its next removal is theirs too, not
// the echo of that op (make chaos, seed 20194: a folder the hub renamed
// away here, made again and removed by a user within expectFor, was taken
// for the rename's echo, and its removal never reached the hub, which kept
// listing this host as holding the file the user had saved in it).
func (l *live) forgetGone(path string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.expect[path]; ok && e.gone {
		delete(l.expect, path)
	}
}

// echo reports whether path is as the agent's own recent op left it.
func (l *live) echo(path string) bool {
	now := time.Now()
	l.mu.Lock()
	e, ok := l.expect[path]
	if ok && now.After(e.until) {
		delete(l.expect, path)
		ok = false
	}
	if !ok {
		// Below a folder the agent's own op removed (its files' removals
		// are seen one by one), a path gone is the agent's doing too.
		e, ok = l.goneAbove(path, now)
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
		return e.goneFirst && errors.Is(err, fs.ErrNotExist)
	case e.dir:
		// Not the mode: Mkdir makes the folder, then sets its mode, and
		// the watcher may see it in between.
		return info.Kind == wire.KindDir
	}
	if info.Kind != wire.KindFile {
		return false
	}
	same := func(v wire.Entry) bool {
		return info.Size == v.Size && info.Mtime == v.Mtime && (!e.mode || info.Mode == v.Mode)
	}
	return same(e.entry) || slices.ContainsFunc(e.earlier, same)
}

func (l *live) loop(ctx context.Context) {
	defer close(l.done)
	l.rs.start(ctx)
	defer l.rs.stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	// A close the watcher cannot see (the writer's file replaced under it,
	// its inode no longer in a folder) would leave the copies elsewhere
	// locked until the hub's grace period: files reported open are checked
	// now and then (make chaos, seed 4).
	recheck := time.NewTicker(openRecheck)
	defer recheck.Stop()
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
		case <-recheck.C:
			if l.opened.size() > 0 {
				l.recheckOpened(ctx)
			}
		case <-timer.C:
			l.due(ctx)
		case <-l.kick:
			l.followMoves(ctx)
		case m := <-l.marks:
			l.serveMark(ctx, m)
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
	if ev.Op != watch.WriteOpen || ev.LockFile != "" || ev.IsDir || l.opened.has(ev.Path) || l.locker.Locked(ev.Path) {
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
		l.sent.prune(now.Add(-expectFor))
		l.mu.Unlock()
	}
	l.flush(ctx)
}

// logWatching says how a session's root is watched, and why not by
// fanotify when the agent fell back to a watch per folder.
func (a *Agent) logWatching(session string, w *watch.Watcher) {
	ev := a.log.Info().Str("session", session).Str("root", w.Root()).Str("write_opens", w.Mode().String()).Str("tree", w.Tree().String())
	if why := w.TreeFallback(); why != nil {
		ev = ev.AnErr("fanotify", why).Str("fix", "run the agent as root, or grant it CAP_SYS_ADMIN and CAP_DAC_READ_SEARCH, for tree changes without a watch per folder (Linux 5.17+)")
	}
	ev.Msg("watching")
}
