package watch

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/peerlink/peerlink/sync/filter"
	"github.com/peerlink/peerlink/wire"
)

// Op is what happened to a path.
type Op uint8

const (
	// WriteOpen: a process opened the file for writing (or, where that
	// cannot be seen, first modified it), or an office suite's lock file
	// for it appeared (then Event.LockFile is set).
	WriteOpen Op = iota + 1
	// Closed: a descriptor open for writing was closed (whether or not
	// anything was written), or the office lock file named by
	// Event.LockFile disappeared.
	Closed
	// Created: a file or folder appeared, by creation or by a move into
	// the root. It may replace a file that was there (a rename over it).
	Created
	// Removed: a file or folder disappeared, by deletion or by a move out
	// of the root (or to an excluded name).
	Removed
	// Renamed: a file or folder moved within the root from OldPath to
	// Path, replacing whatever Path was.
	Renamed
	// Changed: a file's content was modified (reported once until it is
	// Closed), or a file's or folder's metadata changed (mode, owner,
	// times, link count, extended attributes).
	Changed
	// Overflow: events were lost (the kernel's queue overflowed); nothing
	// reported before can be trusted to be complete. The agent rescans.
	// Path is empty.
	Overflow
	// Limited: a folder could not be watched because a system limit was
	// reached; Event.Err is the *LimitError that says which and how to
	// raise it, Path the first folder left unwatched. Nothing in that
	// folder, or in any other folder that meets the limit after it, is
	// reported; the watcher goes on with what it watches. Reported once
	// per watcher: from then on the agent scans periodically.
	Limited
	// Skipped: a name appeared that no watch-set path can be (not valid
	// UTF-8, a backslash, too long), so it is not synchronised. Path is
	// the name made printable (invalid bytes replaced by U+FFFD) for the
	// agent's warning, Err says what is wrong with it. Nothing else is
	// reported of it.
	Skipped
	// OpensLost: fanotify's queue overflowed, so write-opens may have been
	// lost (Linux, Fanotify mode); Path is empty. Only opens: changes,
	// moves and closes come by inotify, whose own losses are an Overflow.
	// The fanotify mark covers the whole file system, so any busy process
	// outside the root can overflow it; a rescan of the root would find
	// nothing a lost open leaves behind (the file's Closed or Changed
	// still comes), so the agent only warns: a file opened for writing
	// while opens were lost is not locked on the other hosts.
	OpensLost
)

var opNames = [...]string{WriteOpen: "WriteOpen", Closed: "Closed", Created: "Created", Removed: "Removed", Renamed: "Renamed", Changed: "Changed", Overflow: "Overflow", Limited: "Limited", Skipped: "Skipped", OpensLost: "OpensLost"}

func (o Op) String() string {
	if int(o) < len(opNames) && opNames[o] != "" {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// Event is one thing a user (or any process) did below the root.
type Event struct {
	Op      Op
	Path    string // slash-separated, relative to the root, clean (wire.CheckPath-valid); empty for Overflow
	OldPath string // Renamed: where it was
	IsDir   bool
	Pid     int    // WriteOpen seen by fanotify: the opener's process id; 0 if unknown
	User    string // WriteOpen: the opener's user name when known (from the opener's uid, or an office lock file's contents)
	// LockFile is set on a WriteOpen or Closed derived from an office
	// lock file: that lock file's path. Such a WriteOpen ends with the
	// Closed carrying the same LockFile; other Closed events of the
	// document in between are saves, not the end of the editing session.
	LockFile string
	// Err is set on Limited (a *LimitError) and Skipped (what is wrong
	// with the name).
	Err error
}

func (e Event) String() string {
	var b strings.Builder
	b.WriteString(e.Op.String())
	if e.IsDir {
		b.WriteString(" dir")
	}
	if e.Op == Renamed {
		fmt.Fprintf(&b, " %q -> %q", e.OldPath, e.Path)
	} else if e.Path != "" {
		fmt.Fprintf(&b, " %q", e.Path)
	}
	if e.Pid != 0 {
		fmt.Fprintf(&b, " pid %d", e.Pid)
	}
	if e.User != "" {
		fmt.Fprintf(&b, " user %q", e.User)
	}
	if e.LockFile != "" {
		fmt.Fprintf(&b, " lock %q", e.LockFile)
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Mode selects how write-opens are detected; see the package comment.
type Mode uint8

const (
	// Auto: Fanotify when running as root and the kernel allows it, else
	// Lease when leases are enabled, else InotifyOnly.
	Auto Mode = iota
	// Fanotify: every open on the root's file system, with the opener's pid
	// and access mode. Needs root (CAP_SYS_ADMIN).
	Fanotify
	// Lease: a read lease on each file (up to Options.MaxLeases), broken by
	// any write-open.
	Lease
	// InotifyOnly: change notification alone; a file's first modification
	// is reported as its WriteOpen. The portable (non-Linux) build always
	// works this way.
	InotifyOnly
)

var modeNames = [...]string{Auto: "auto", Fanotify: "fanotify", Lease: "lease", InotifyOnly: "inotify-only"}

func (m Mode) String() string {
	if int(m) < len(modeNames) {
		return modeNames[m]
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// ParseMode returns the Mode named by s, as Mode.String spells it.
func ParseMode(s string) (Mode, error) {
	for m, n := range modeNames {
		if s == n {
			return Mode(m), nil
		}
	}
	return Auto, fmt.Errorf("unknown watch mode %q: want auto, fanotify, lease or inotify-only", s)
}

// DefaultMaxLeases is Options.MaxLeases when it is 0.
const DefaultMaxLeases = 4096

// Options tune a Watcher. The zero value watches everything in Auto mode.
type Options struct {
	// Filter names paths to ignore; nil ignores nothing. Office lock files
	// are recognised before filtering (the default filter excludes them),
	// and are never reported as files of their own.
	Filter *filter.Filter
	// IgnorePid is a process whose opens are not reported: the agent's own
	// pid. Only fanotify knows who opened a file; in the other modes the
	// agent's own writes are reported like anyone's.
	IgnorePid int
	// Mode selects write-open detection. An explicit mode that cannot work
	// here makes New fail; Auto falls back.
	Mode Mode
	// MaxLeases bounds, in Lease mode, how many files hold a lease at once:
	// each costs one open descriptor. Files beyond it are detected by
	// their first modification, as in InotifyOnly. 0 means
	// DefaultMaxLeases.
	MaxLeases int
	// Tree selects where tree changes come from: TreeAuto (the zero
	// value) uses fanotify where it can. An explicit TreeFanotify that
	// cannot work here makes New fail.
	Tree Tree
}

// ErrWatchLimit is wrapped by every *LimitError: a system limit keeps the
// watcher from watching the whole root (on Linux the inotify watch or
// instance limit). New fails with it when not even the root can be
// watched; a folder below the root that meets it is reported as Limited.
// Either way the agent falls back to periodic scans.
var ErrWatchLimit = errors.New("file system watch limit reached")

// LimitError says which system limit a watcher reached and what an
// administrator does about it. It wraps ErrWatchLimit and the system's
// error.
type LimitError struct {
	Root string // the watcher's root
	What string // the limit, as an administrator knows it: "inotify watch limit"
	// Sysctl is the setting that raises it ("fs.inotify.max_user_watches"),
	// Value its value now (0 if unknown) and Suggest a value to raise it
	// to; Sysctl is empty where the limit is not a sysctl.
	Sysctl  string
	Value   int
	Suggest int
	// Detail is more to know: how to raise a limit that is not a sysctl,
	// or a lower limit that applies too.
	Detail  string
	Watched int   // folders watched for this root when the limit was met; 0 if not counted
	Err     error // what the system said (ENOSPC, EMFILE...)
}

func (e *LimitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "watch %s: %v: %s reached", e.Root, ErrWatchLimit, e.What)
	if e.Err != nil {
		fmt.Fprintf(&b, " (%v)", e.Err)
	}
	if e.Watched > 0 {
		fmt.Fprintf(&b, " with %d folders watched for this root", e.Watched)
	}
	if e.Sysctl != "" {
		fmt.Fprintf(&b, ": %s, shared by all of this user's processes, is %d: %s (and in /etc/sysctl.d/ to keep it across reboots)", e.Sysctl, e.Value, e.Advice())
	}
	if e.Detail != "" {
		b.WriteString("; ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

func (e *LimitError) Unwrap() []error { return []error{ErrWatchLimit, e.Err} }

// Advice is what to do, in a few words: "raise it, e.g. sysctl -w
// fs.inotify.max_user_watches=1048576", or Detail for a limit that is not
// a sysctl.
func (e *LimitError) Advice() string {
	if e.Sysctl == "" {
		return e.Detail
	}
	return fmt.Sprintf("raise it, e.g. sysctl -w %s=%d", e.Sysctl, e.Suggest)
}

// Timing of the detector, variables so that tests can shorten them.
var (
	// moveWait is how long a move's first half (the old name) waits for
	// its second half before it is taken as a move out of the root.
	moveWait = 50 * time.Millisecond
	// lockWait is how long a new office lock file may stay empty (its
	// writer has not closed it) before it is announced without a user.
	lockWait = 200 * time.Millisecond
	// quietPeriod (portable build, which sees no closes): a file modified
	// and then left alone this long is reported Closed.
	quietPeriod = 2 * time.Second
)

// join returns the relative path of name in the folder dir ("" is the root).
func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// dirOf returns the folder part of a relative path ("" for the root).
func dirOf(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return ""
}

// under reports whether p is prefix or below it.
func under(p, prefix string) bool {
	return p == prefix || len(p) > len(prefix) && p[len(prefix)] == '/' && strings.HasPrefix(p, prefix)
}

// moved returns p with its prefix from replaced by to, for p under from.
func moved(p, from, to string) string { return to + p[len(from):] }

// validPath reports whether p can be reported: the watch set's paths are
// what wire.CheckPath accepts; other names (not UTF-8, with a backslash,
// too long) are left out, as the scan leaves them out with a warning.
func validPath(p string) bool { return wire.CheckPath(p) == nil }

// skippedName is the Skipped event for p, a name validPath refused.
func skippedName(p string) Event {
	return Event{Op: Skipped, Path: strings.ToValidUTF8(p, "\uFFFD"), Err: wire.CheckPath(p)}
}

// rekey moves the entries of m at or below from to the same place below to
// (a file or folder rename).
func rekey[V any](m map[string]V, from, to string) {
	if len(m) == 0 {
		return
	}
	var keys []string
	for k := range m {
		if under(k, from) {
			keys = append(keys, k)
		}
	}
	vals := make([]V, len(keys))
	for i, k := range keys {
		vals[i] = m[k]
		delete(m, k)
	}
	for i, k := range keys {
		m[moved(k, from, to)] = vals[i]
	}
}

// dropUnder deletes the entries of m at or below p.
func dropUnder[V any](m map[string]V, p string) {
	for k := range m {
		if under(k, p) {
			delete(m, k)
		}
	}
}

// officeLock reports whether a file (not a folder) called name is an office
// lock file, and what its name says of the document's (filter.IsOfficeLock).
func officeLock(name string, isDir bool) (doc string, ok bool) {
	if isDir {
		return "", false
	}
	return filter.IsOfficeLock(name)
}

// lockState is an office lock file a watcher knows of.
type lockState struct {
	doc       string // what filter.IsOfficeLock made of the name
	docPath   string // the document's path once announced; "" if it has none
	announced bool   // its WriteOpen was reported (or there is none to report)
	deadline  time.Time
}

// life is how a watcher stops, the same on every platform: done is closed
// when it is told to stop, finished once it has stopped and released
// everything, and err says why it stopped on its own.
type life struct {
	done     chan struct{}
	finished chan struct{}
	stopOnce sync.Once
	errMu    sync.Mutex
	err      error
}

func newLife() life { return life{done: make(chan struct{}), finished: make(chan struct{})} }

// Err returns why the watcher stopped on its own (nil while it runs, and
// after Close or the end of its context).
func (l *life) Err() error {
	l.errMu.Lock()
	defer l.errMu.Unlock()
	return l.err
}

// Close stops the watcher and releases what it holds. Events is closed by
// the time it returns. It is safe to call more than once.
func (l *life) Close() error {
	l.stop(nil)
	<-l.finished
	return nil
}

// stop tells every goroutine to end; err, if the first reason given, is
// what Err returns.
func (l *life) stop(err error) {
	l.stopOnce.Do(func() {
		l.errMu.Lock()
		l.err = err
		l.errMu.Unlock()
		close(l.done)
	})
}

func (l *life) stopped() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// rekeyLocks follows a folder rename from to to: the office lock files
// below it, and their documents, moved with it. The folder's own name is
// not a lock file's: a lock file's rename is an event of its own.
func rekeyLocks(locks map[string]*lockState, from, to string) {
	var keys []string
	for lock := range locks {
		if lock != from && under(lock, from) {
			keys = append(keys, lock)
		}
	}
	for _, lock := range keys {
		l := locks[lock]
		delete(locks, lock)
		if l.docPath != "" && under(l.docPath, from) {
			l.docPath = moved(l.docPath, from, to)
		}
		locks[moved(lock, from, to)] = l
	}
}

// readSysctl returns a Linux sysctl's value, 0 where there is none (and on
// other systems).
func readSysctl(name string) int {
	b, err := os.ReadFile("/proc/sys/" + strings.ReplaceAll(name, ".", "/"))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}
