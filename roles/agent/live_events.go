package agent

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/sync/watch"
	"github.com/peerlink/peerlink/wire"
)

// handle acts on one watcher event.
func (l *live) handle(ctx context.Context, ev watch.Event) {
	switch ev.Op {
	case watch.Overflow:
		// Rescanned in place: the session goes on (rescan.go).
		l.a.log.Warn().Str("session", l.s.name).Msg("file system events were lost: rescanning the root")
		l.rescan("events were lost")
		return
	case watch.OpensLost:
		// Nothing to rescan: what changed still comes by inotify. Any
		// busy process on the file system can cause it, so it is said at
		// most once a minute.
		if now := time.Now(); now.Sub(l.opensLostWarned) >= time.Minute {
			l.opensLostWarned = now
			l.a.log.Warn().Str("session", l.s.name).Msg("write-opens were lost (fanotify's queue overflowed): a file opened for writing meanwhile is not locked on the other hosts until it is opened again")
		}
		return
	case watch.Limited:
		l.limited(ctx, ev.Err)
		return
	case watch.Skipped:
		l.warnSkipped(ev.Path, fmt.Sprintf("%s skipped: %v; rename it to synchronise it", ev.Path, ev.Err))
		l.flush(ctx)
		return
	}
	ev = l.beforeMoves(ev)
	if l.locker.OwnLockFile(ev.Path) || (ev.LockFile != "" && l.locker.OwnLockFile(ev.LockFile)) {
		return
	}
	switch ev.Op {
	case watch.WriteOpen:
		l.onWriteOpen(ctx, ev)
	case watch.Closed:
		l.onClose(ctx, ev)
	case watch.Created, watch.Changed:
		l.onChange(ctx, ev)
	case watch.Removed:
		l.onRemove(ctx, ev)
	case watch.Renamed:
		l.onRename(ctx, ev)
	}
}

// onWriteOpen handles a write-open: the hub locks the other hosts' copies.
func (l *live) onWriteOpen(ctx context.Context, ev watch.Event) {
	if ev.IsDir || l.opened.has(ev.Path) {
		return
	}
	if ev.LockFile != "" {
		l.viaLock[ev.Path] = ev.LockFile
	}
	l.opened.add(ev.Path)
	delete(l.settle, ev.Path)
	l.a.log.Debug().Str("session", l.s.name).Str("path", ev.Path).Int("pid", ev.Pid).Msg("write-open reported")
	l.flush(ctx) // what happened before the open reaches the hub first
	rctx, cancel := context.WithTimeout(ctx, openTimeout)
	_, err := l.c.Request(rctx, wire.HubName, &wire.Opened{Session: l.s.name, Path: ev.Path, User: ev.User}, nil)
	cancel()
	if err != nil {
		l.a.log.Info().Str("session", l.s.name).Str("path", ev.Path).Err(err).Msg("write-open not granted")
	}
}

// onClose handles a close: the hub propagates the new content and
// releases the locks.
func (l *live) onClose(ctx context.Context, ev watch.Event) {
	if lf, ok := l.viaLock[ev.Path]; ok && ev.LockFile != lf {
		return // a save while the document stays open in its application
	}
	if !l.opened.has(ev.Path) {
		l.a.log.Debug().Str("session", l.s.name).Str("path", ev.Path).Msg("close of a file not reported open: reported once settled")
		l.later(ev.Path)
		return
	}
	l.opened.remove(ev.Path)
	delete(l.viaLock, ev.Path)
	e, modified := l.entry(ev.Path)
	l.a.log.Debug().Str("session", l.s.name).Str("path", ev.Path).Bool("modified", modified).Msg("close reported")
	m := &wire.Closed{Session: l.s.name, Path: ev.Path}
	l.flush(ctx)
	if modified && e.Kind == wire.KindFile {
		// Numbered as Changes are: a folder removal the hub plans before
		// it took this in keeps the file (madeIn).
		m.Entry = &e
		l.seq++
		m.Seq = l.seq
		l.noteSent(l.seq, []wire.Change{{Kind: wire.ChangeWrite, Path: ev.Path, Entry: e}})
	}
	data, b := l.inlineClosed(m)
	if b != nil {
		defer b.Release()
	}
	if err := l.c.Send(ctx, wire.HubName, m, data); err != nil {
		l.a.log.Debug().Err(err).Msg("closed")
	}
}

// closeGone reports the close of the files reported open at or below
// path, which a removal or a rename took away while their writers still
// held them: no close can come under their names any more, and the hub
// would hold their locks, and the other hosts' copies stay locked, for
// good (issue 17). Sent before the removal or rename, so that the hub
// releases those copies before it removes or moves them. A document held
// per its office lock file is not: its application saves by replacing it,
// and its lock file's removal ends it.
func (l *live) closeGone(ctx context.Context, path string) {
	for _, p := range l.opened.paths() {
		if _, office := l.viaLock[p]; office || p != path && !strings.HasPrefix(p, path+"/") {
			continue
		}
		l.opened.remove(p)
		l.a.log.Debug().Str("session", l.s.name).Str("path", p).Str("gone", path).Msg("close reported: removed or moved away")
		l.flush(ctx)
		if err := l.c.Send(ctx, wire.HubName, &wire.Closed{Session: l.s.name, Path: p}, nil); err != nil {
			l.a.log.Debug().Err(err).Msg("closed")
		}
	}
}

// onChange handles a created or changed path, reported once settled.
func (l *live) onChange(ctx context.Context, ev watch.Event) {
	if l.echo(ev.Path) {
		if ev.Op == watch.Created {
			l.inPlace(ev.Path)
		}
		return
	}
	if ev.Op == watch.Created {
		l.forgetGone(ev.Path)
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
	if l.opened.has(ev.Path) {
		if _, ok := l.viaLock[ev.Path]; !ok {
			return // its close reports it
		}
	}
	l.later(ev.Path)
}

// onRemove handles a removal.
func (l *live) onRemove(ctx context.Context, ev watch.Event) {
	delete(l.settle, ev.Path)
	delete(l.vanished, ev.Path)
	if l.echo(ev.Path) {
		return
	}
	l.closeGone(ctx, ev.Path)
	l.cache[ev.Path] = nil
	l.removed.note(ev.Path)
	l.forgetExpected(ev.Path, ev.IsDir)
	l.add(ctx, wire.Change{Kind: wire.ChangeRemove, Path: ev.Path})
}

// onRename handles a rename.
func (l *live) onRename(ctx context.Context, ev watch.Event) {
	delete(l.settle, ev.OldPath)
	if l.echo(ev.Path) && l.echo(ev.OldPath) {
		// The hub's own rename, of a folder renamed elsewhere: the files
		// open for writing in it moved with it, and their closes come
		// under the new paths, where the hub moved their locks too.
		l.moveOpened(ctx, ev.OldPath, ev.Path)
		return
	}
	// A user moved the old path away: what appears there next is the
	// user's too, even if it looks like what an op of the hub's left there
	// (make chaos, seed 20031: a folder the hub had made, renamed by a
	// user and made again, was taken for the hub's mkdir, and what the
	// user made in it reached the hub without it).
	l.forgetExpected(ev.OldPath, ev.IsDir)
	l.forgetGone(ev.Path)
	if _, ok := l.viaLock[ev.Path]; ok {
		return // an application saving by rename over the open document
	}
	l.closeGone(ctx, ev.OldPath)
	info, err := l.s.tree.Lstat(ev.Path)
	if err != nil {
		return
	}
	if info.Kind == wire.KindFile {
		// A locked copy renamed by a user is not locked under its new
		// name: its own mode goes back on before it is reported.
		if err := l.locker.MovedAway(ev.OldPath, ev.Path); err != nil {
			l.a.log.Warn().Err(err).Str("session", l.s.name).Str("path", ev.Path).Msg("unlock a locked copy renamed")
		}
		// The content may be new (an editor's temp file renamed over
		// the original): report it as a write once settled, plus the
		// removal of the old name.
		l.add(ctx, wire.Change{Kind: wire.ChangeRemove, Path: ev.OldPath})
		l.later(ev.Path)
		return
	}
	// A folder renamed here carries the copies locked in it.
	if err := l.locker.Moved(ev.OldPath, ev.Path); err != nil {
		l.a.log.Warn().Err(err).Str("session", l.s.name).Msg("lock records of a renamed folder")
	}
	l.add(ctx, wire.Change{Kind: wire.ChangeRename, Path: ev.Path, OldPath: ev.OldPath, Entry: info.Entry(ev.Path)})
	l.settleMoved(ev.OldPath, ev.Path)
	l.noteUserMove(ev.OldPath, ev.Path)
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
	if err == nil && info.Kind != wire.KindFile && info.Kind != wire.KindDir {
		l.warnSkipped(path, fmt.Sprintf("%s %s skipped: peerlink synchronises files and folders only", info.TypeString(), path))
		return
	}
	if errors.Is(err, fs.ErrNotExist) {
		l.followUserMoves(path) // usermoved.go
		return
	}
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
	c, cached := l.cached(path)
	if cached && c.Size == info.Size && c.Mtime == info.Mtime && c.Ctime == info.Ctime && c.Ino == info.Ino {
		return wire.Entry{}, false
	}
	h, err := l.a.hashSigned(l.s, path, info)
	if err != nil {
		return wire.Entry{}, false
	}
	e.Hash = h
	l.cache[path] = &store.CachedPath{Path: path, Cached: store.Cached{Size: info.Size, Mtime: info.Mtime, Ctime: info.Ctime, Ino: info.Ino, Hash: e.Hash}}
	// Only the inode's change time moved (a chmod back and forth, a hard
	// link): the same content at the same time is no modification.
	return e, !cached || c.Hash != h || c.Size != info.Size || c.Mtime != info.Mtime
}

// cached returns path's scan cache record as the agent knows it now: the
// one waiting for the next flush, else agent.db's.
func (l *live) cached(path string) (store.Cached, bool) {
	if cp, ok := l.cache[path]; ok {
		if cp == nil {
			return store.Cached{}, false
		}
		return cp.Cached, true
	}
	return l.a.db.Cached(l.s.name, path)
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

// warnSkipped queues a warning about a path that is not synchronised, once
// per path and attachment, for the session's status; past maxWarned paths
// one last warning says that more are in the agent's log.
func (l *live) warnSkipped(path, msg string) {
	l.a.log.Warn().Str("session", l.s.name).Str("path", path).Msg(msg)
	if l.warned == nil {
		l.warned = map[string]bool{}
	}
	if l.warned[path] || len(l.warned) > maxWarned {
		return
	}
	l.warned[path] = true
	if len(l.warned) > maxWarned {
		msg = fmt.Sprintf("more than %d paths skipped while running: the agent's log names every one", maxWarned)
	}
	if len(msg) > wire.MaxWarningLen {
		msg = msg[:wire.MaxWarningLen-3] + "..."
		msg = strings.ToValidUTF8(msg, "")
	}
	l.warnings = append(l.warnings, msg)
}

// maxWarned bounds the skipped paths one attachment warns about.
const maxWarned = 100

// flush writes the scan cache records and sends the queued changes and
// warnings.
func (l *live) flush(ctx context.Context) {
	for _, msg := range l.warnings {
		if err := l.c.Send(ctx, wire.HubName, &wire.Warning{Session: l.s.name, Msg: msg}, nil); err != nil {
			l.a.log.Debug().Err(err).Msg("warning")
		}
	}
	l.warnings = nil
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
	var data []byte
	if b := l.inline(batch); b != nil {
		defer b.Release()
		data = b.Data
	}
	l.seq++
	l.noteSent(l.seq, batch)
	if err := l.c.Send(ctx, wire.HubName, &wire.Changes{Session: l.s.name, Changes: batch, Seq: l.seq}, data); err != nil {
		l.a.log.Warn().Err(err).Str("session", l.s.name).Int("changes", len(batch)).Msg("report changes")
	}
}

// moveOpened follows the hub's rename of from to to, seen by the watcher,
// in the documents held per their office lock files, and in the write-opens
// reported to the hub where movedByHub has not already (see reannounce).
func (l *live) moveOpened(ctx context.Context, from, to string) {
	for p, lf := range l.viaLock {
		if np, ok := wire.Moved(p, from, to); ok {
			delete(l.viaLock, p)
			if nlf, ok := wire.Moved(lf, from, to); ok {
				lf = nlf
			}
			l.viaLock[np] = lf
		}
	}
	l.reannounce(ctx, l.opened.move(from, to))
}

// reannounce reports each write-open that a folder rename of the hub's
// moved again: Closed at its old path, then Opened at its new. The hub may
// have handled the write-open before it planned the rename, and moved the
// lock with the folder (the Closed then finds no lock, and the Opened one
// the host already holds), or after, when the lock stayed at the old path,
// where no close would ever come: the other hosts' copies stayed locked
// and this host's new version never left it (make chaos, seed 30052: a
// truncate on one host as another renamed the folder).
func (l *live) reannounce(ctx context.Context, moved [][2]string) {
	for _, mv := range moved {
		l.flush(ctx)
		if err := l.c.Send(ctx, wire.HubName, &wire.Closed{Session: l.s.name, Path: mv[0]}, nil); err != nil {
			l.a.log.Debug().Err(err).Msg("closed")
			return
		}
		rctx, cancel := context.WithTimeout(ctx, openTimeout)
		_, err := l.c.Request(rctx, wire.HubName, &wire.Opened{Session: l.s.name, Path: mv[1]}, nil)
		cancel()
		if err != nil {
			l.a.log.Info().Str("session", l.s.name).Str("path", mv[1]).Err(err).Msg("write-open moved with its folder not granted")
		}
	}
}
