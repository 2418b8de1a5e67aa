package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/sync/watch"
	"github.com/peerlink/peerlink/wire"
)

// Rescans (issue 5: events lost, and "inotify watch limits reached: a clear
// message naming the sysctl to raise, and a fallback to periodic scans
// rather than silent misses"). When the watcher lost events (watch.Overflow)
// or cannot watch every folder (watch.Limited), the agent scans its root
// again and reports what differs from what it knows as ordinary live
// changes. The connection stays up and the session keeps running: nothing
// starts over on the hub.
//
// What the agent knows, to compare with:
//   - of files, the scan cache in agent.db (path -> size, mtime, ctime,
//     inode, hash), which the start-up scan, the live loop and the applies
//     keep current. A file whose stat still matches its record is not read,
//     so a rescan of an unchanged tree reads no content, and the cache's
//     records stream from bbolt: nothing per file is held in memory but the
//     scan cache reader's 8 bytes.
//   - of folders, the folders and their modes found by the last complete
//     scan (the start-up scan's, then each rescan's), in memory: a few tens
//     of bytes per folder.
//
// A file absent from the cache or whose content differs is reported written;
// one whose stat moved but whose content did not, as a metadata change (its
// mode may be new); a folder the last scan did not have, as created; one
// whose mode changed, as a metadata change; and what the last scan (folders)
// or the cache (files) had but the tree no longer has, as removed. A rename
// shows as a removal and a creation. Reporting what the hub already knows is
// harmless: the hub drops a change that matches its index.
//
// The scan runs on a goroutine of its own, the live loop's, and sends what
// it finds to the loop in small batches between the watcher's events. The
// loop judges each against the file as it is then and against the agent's
// own changes (expectations), target locks and files open for writing, as
// it judges the watcher's events; and it writes the scan cache record only
// of what it reports, so that a change the live path is still to report is
// never hidden from it by a record the rescan wrote first.

// DefaultRescanInterval is how often an agent that reached a watch limit
// scans each session's root, unless Config.RescanInterval says otherwise.
const DefaultRescanInterval = 30 * time.Second

// rescanChunk is how many findings one message to the loop carries: small,
// so that the loop is never busy with a rescan's findings for long.
const rescanChunk = 256

// rescans is a live loop's rescan state. base is safe for concurrent use;
// everything else is owned by the loop goroutine.
type rescans struct {
	every time.Duration
	base  dirBase

	// noWatch is why there is no watcher at all (a watch limit met by
	// the root itself): the loop runs on periodic scans alone.
	noWatch error

	ctx     context.Context // the loop's; ends the rescan goroutine
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	out     chan rescanMsg
	running bool
	again   bool // asked for while one ran: another follows it
	why     string
	found   int          // changes the running rescan reported
	ticker  *time.Ticker // periodic scans, once a watch limit was reached
	warned  bool
}

func newRescans(every time.Duration) rescans {
	if every <= 0 {
		every = DefaultRescanInterval
	}
	return rescans{every: every, base: dirBase{ready: make(chan struct{})}, out: make(chan rescanMsg)}
}

// start binds the rescans to the loop's context.
func (rs *rescans) start(ctx context.Context) {
	rs.ctx, rs.cancel = context.WithCancel(ctx)
}

// stop ends a rescan in progress and the periodic scans, and waits.
func (rs *rescans) stop() {
	if rs.cancel != nil {
		rs.cancel()
	}
	rs.wg.Wait()
	if rs.ticker != nil {
		rs.ticker.Stop()
	}
}

// tick delivers the periodic scans' times; nil (never) until a limit.
func (rs *rescans) tick() <-chan time.Time {
	if rs.ticker == nil {
		return nil
	}
	return rs.ticker.C
}

// rescanMsg is what a rescan found, sent to the loop in order; the last
// one has done set.
type rescanMsg struct {
	found []finding
	done  bool
	err   error
	stats wire.ScanStats
	took  time.Duration
}

// finding is one difference a rescan found: a change to report, which the
// loop still checks against the tree as it is then.
type finding struct {
	wire.Change
	// rec is a file's state and hash as the rescan read it, its scan
	// cache record once the change is reported unless racy (a file changed
	// a moment ago, which the next scan must read again); nil for a file
	// the cache described.
	rec  *store.CachedPath
	racy bool
	// file marks a removal of a file (whose cache record goes) from one
	// of a folder; quiet a file's removal only to drop its record: it was
	// below a folder whose removal is reported.
	file, quiet bool
	// maybe marks a file whose content is what the cache said: it is a
	// metadata change only if the scan read it (its stat moved).
	maybe bool
}

// limited starts periodic scans after a watch limit, and tells the
// administrator, once per attachment, which sysctl to raise: in the log and
// in the session's status on the hub.
func (l *live) limited(ctx context.Context, err error) {
	rs := &l.rs
	if rs.ticker == nil {
		rs.ticker = time.NewTicker(rs.every)
	}
	if rs.warned {
		return
	}
	rs.warned = true
	msg := limitWarning(err, l.a.cfg.Name, l.s.root, rs.every)
	l.a.log.Warn().Str("session", l.s.name).AnErr("cause", err).Msg(msg)
	if err := l.c.Send(ctx, wire.HubName, &wire.Warning{Session: l.s.name, Msg: msg}, nil); err != nil {
		l.a.log.Debug().Err(err).Msg("send warning")
	}
	// What happened in the folders left out until now is not lost either;
	// before the start-up scan has been, that scan sees it.
	if rs.base.known() {
		l.rescan("watch limit")
	}
}

// limitWarning is the administrator's message for a watch limit: what was
// reached, what to raise, and what the agent does meanwhile.
func limitWarning(err error, host, root string, every time.Duration) string {
	var msg string
	var le *watch.LimitError
	switch {
	case errors.As(err, &le) && le.Sysctl != "":
		msg = fmt.Sprintf("%s reached (%s=%d): %s", le.What, le.Sysctl, le.Value, le.Advice())
		if le.Detail != "" {
			msg += "; " + le.Detail
		}
	case errors.As(err, &le):
		msg = fmt.Sprintf("%s reached: %s", le.What, le.Advice())
	default:
		msg = err.Error()
	}
	tail := fmt.Sprintf("; until then %s scans %s every %s", host, root, every)
	if over := len(msg) + len(tail) - wire.MaxWarningLen; over > 0 {
		msg = strings.ToValidUTF8(msg[:max(0, len(msg)-over)], "")
	}
	return msg + tail
}

// rescan starts a rescan of the root, or, while one runs, another after it.
func (l *live) rescan(why string) {
	rs := &l.rs
	if rs.running {
		rs.again = true
		return
	}
	rs.running, rs.why, rs.found = true, why, 0
	rs.wg.Go(func() { l.scanAgain(rs.ctx) })
}

// rescanned takes what a rescan found, and starts the next one if asked
// for meanwhile.
func (l *live) rescanned(ctx context.Context, m rescanMsg) {
	rs := &l.rs
	for i := range m.found {
		if l.reconcile(ctx, &m.found[i]) {
			rs.found++
		}
	}
	if !m.done {
		return
	}
	rs.running = false
	switch {
	case m.err != nil && ctx.Err() == nil:
		l.a.log.Warn().Err(m.err).Str("session", l.s.name).Str("why", rs.why).Msg("rescan failed; the next one tries again")
	case m.err == nil:
		// A periodic scan that found nothing is no news.
		ev := l.a.log.Info()
		if rs.found == 0 && rs.ticker != nil {
			ev = l.a.log.Debug()
		}
		ev.Str("session", l.s.name).Str("why", rs.why).Int("changes", rs.found).Int64("files", m.stats.Files).
			Int64("hashed", m.stats.Hashed).Str("took", (m.took).Round(time.Millisecond).String()).Msg("rescan done")
	}
	l.recheckOpened(ctx)
	if rs.again {
		rs.again = false
		l.rescan(rs.why)
	}
}

// recheckOpened reports the close of the files reported open for writing
// that nobody has open for writing any more. A rescan means events were
// lost or not seen, a close among them perhaps: the watcher rechecks what
// it reported open when it learns of the loss, and this, once the rescan
// is over, catches what was reported open meanwhile. A close missed would
// leave the hub holding the file's lock, and the other hosts' copies
// locked, for good (issue 17). A document held per its office lock file
// is left to that file.
func (l *live) recheckOpened(ctx context.Context) {
	for _, p := range l.closedUnseen() {
		l.a.log.Info().Str("session", l.s.name).Str("path", p).Msg("no longer open for writing, its close unseen: reported closed")
		l.onClose(ctx, watch.Event{Op: watch.Closed, Path: p})
	}
}

// closedUnseen returns the files reported open for writing, but for office
// documents, that the watcher finds open for writing by nobody, sorted.
func (l *live) closedUnseen() []string {
	if l.w == nil || l.opened.size() == 0 {
		return nil
	}
	var paths []string
	for _, p := range l.opened.paths() {
		if _, office := l.viaLock[p]; !office {
			paths = append(paths, p)
		}
	}
	writing := l.w.Writing(paths)
	var closed []string
	for _, p := range paths {
		if open, known := writing[p]; known && !open {
			closed = append(closed, p)
		}
	}
	slices.Sort(closed)
	return closed
}

// reconcile reports a rescan's finding unless the live path owns it or the
// tree changed since, and says whether it did.
func (l *live) reconcile(ctx context.Context, f *finding) bool {
	p := f.Path
	info, err := l.s.tree.Lstat(p)
	switch f.Kind {
	case wire.ChangeRemove:
		if !errors.Is(err, fs.ErrNotExist) {
			return false // back, or never gone: not a removal
		}
		if f.file {
			l.cache[p] = nil
		}
		if f.quiet || l.echo(p) {
			return false
		}
		delete(l.settle, p)
		l.add(ctx, f.Change)
		return true
	case wire.ChangeMkdir, wire.ChangeMeta:
		if err != nil || info.Kind != f.Entry.Kind || l.echo(p) {
			return false
		}
		if info.Kind == wire.KindDir {
			l.add(ctx, wire.Change{Kind: f.Kind, Path: p, Entry: info.Entry(p)})
			return true
		}
		fallthrough
	case wire.ChangeWrite:
		if err != nil || info.Kind != wire.KindFile || l.echo(p) || l.locker.Locked(p) || l.opened.has(p) {
			return false // gone since, the agent's own, a lock's, or its close reports it
		}
		if _, ok := l.settle[p]; ok {
			return false // the live path reports it
		}
		if c, ok := l.cached(p); ok && c.Size == info.Size && c.Mtime == info.Mtime && c.Ctime == info.Ctime && c.Ino == info.Ino {
			// The live path reported this very state since the scan
			// looked the file up: reported twice, the hub could take
			// the second for a new change (issue 17).
			return false
		}
		e := f.Entry
		if r := f.rec; r != nil && (r.Size != info.Size || r.Mtime != info.Mtime || r.Ctime != info.Ctime || r.Ino != info.Ino) ||
			r == nil && (e.Size != info.Size || e.Mtime != info.Mtime) {
			l.later(p) // changed since it was read: looked at afresh
			return false
		}
		if f.rec != nil && !f.racy {
			l.cache[p] = f.rec
		}
		l.add(ctx, f.Change)
		return true
	}
	return false
}
