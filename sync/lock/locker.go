package lock

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sync"
	"time"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/wire"
)

// Journal is where a Locker records its locks before it applies them, and
// the orphans of released locks whose copies it still looks for
// (orphan.go): *store.Agent, the lock buckets of agent.db.
type Journal interface {
	PutLocks(recs ...store.LockRecord) error
	DeleteLocks(session string, paths ...string) error
	Locks(session string) ([]store.LockRecord, error)
	PutOrphans(recs ...store.LockRecord) error
	DeleteOrphans(session string, paths ...string) error
	Orphans(session string) ([]store.LockRecord, error)
}

var _ Journal = (*store.Agent)(nil)

// Options adjust a Locker. The zero value is the production setting.
type Options struct {
	// NoImmutable never sets the immutable flag: a lock is then only the
	// removed write bits and the lock files, as for an agent without root.
	NoImmutable bool
	// NoLockFiles writes no application lock files.
	NoLockFiles bool
	// EchoWindow is how long OwnLockFile still claims a lock file the
	// Locker removed, so that the watcher takes the removal's event for
	// the Locker's own; 0 means 5 seconds.
	EchoWindow time.Duration
	// Warn, if set, hears of what does not fail a lock but weakens it: the
	// immutable flag refused on a file system (once per device), a lock
	// file that could not be written or removed, a foreign lock file left
	// in place.
	Warn func(path string, err error)
	// Now is the clock, for tests; nil is time.Now.
	Now func() time.Time
}

// Locker enforces and undoes the target locks of one session on one
// watch-set root. Its methods are safe for concurrent use; calls for the
// same path run one at a time. Use one Locker per session and root: the
// journal's records of the session on that root are the Locker's.
type Locker struct {
	t       *tree.Tree
	j       Journal
	session string
	opts    Options

	mu        sync.Mutex
	held      map[string]store.LockRecord // by document path
	own       map[string]string           // lock file path -> document path, for held locks
	removed   map[string]time.Time        // lock file path -> when the Locker removed it
	inflight  map[string]chan struct{}    // paths with a call in progress
	immutable map[uint64]bool             // by device: false once the flag was refused there
	orphans   map[string]store.LockRecord // released locks whose copy was not at its path (orphan.go)

	// Tests only.
	crash   func(step string) // called after each step that changes something
	noLease bool              // detect writers by /proc alone
}

// New returns the Locker of session on t, with the locks j has journaled
// for the session (a crashed agent's, which Reconcile undoes or keeps). It
// fails only if the journal cannot be read: a Locker that did not know of
// a journaled lock could record a locked copy's mode as its original.
func New(t *tree.Tree, j Journal, session string, opts Options) (*Locker, error) {
	if err := wire.CheckName("session", session); err != nil {
		return nil, &wire.Error{Kind: wire.KindInvalid, Msg: err.Error()}
	}
	recs, err := j.Locks(session)
	if err != nil {
		return nil, fmt.Errorf("lock: read the journal: %w", err)
	}
	orphans, err := j.Orphans(session)
	if err != nil {
		return nil, fmt.Errorf("lock: read the journal's orphans: %w", err)
	}
	if opts.EchoWindow <= 0 {
		opts.EchoWindow = 5 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &Locker{
		t: t, j: j, session: session, opts: opts,
		held:      make(map[string]store.LockRecord),
		own:       make(map[string]string),
		removed:   make(map[string]time.Time),
		inflight:  make(map[string]chan struct{}),
		immutable: make(map[uint64]bool),
		orphans:   make(map[string]store.LockRecord),
	}
	for _, r := range recs {
		if l.owns(r) {
			l.setHeld(r)
		}
	}
	for _, r := range orphans {
		if l.owns(r) {
			l.orphans[r.Path] = r
		}
	}
	return l, nil
}

// owns reports whether rec journals a lock on this Locker's root. The
// journal keys a session's records by path alone, so records of another
// root of the session (its root changed while locks were left there) must
// be undone by a Locker on that root before this one locks the same path.
// A record journaled without its root is taken for this root.
func (l *Locker) owns(rec store.LockRecord) bool {
	return rec.Root == "" || rec.Root == l.t.Dir()
}

// Locked reports whether path is locked (journaled and not yet released).
func (l *Locker) Locked(path string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.held[path]
	return ok
}

// Held returns the locked paths, sorted.
func (l *Locker) Held() []string {
	l.mu.Lock()
	out := make([]string, 0, len(l.held))
	for p := range l.held {
		out = append(out, p)
	}
	l.mu.Unlock()
	slices.Sort(out)
	return out
}

// OwnLockFile reports whether path is an application lock file this
// Locker wrote for a lock it holds, or removed within the last EchoWindow
// with nothing at path since. The watcher asks it so as not to take the
// Locker's own lock files, their creation or their removal, for a local
// user opening or closing the document.
func (l *Locker) OwnLockFile(path string) bool {
	l.mu.Lock()
	_, own := l.own[path]
	at, removed := l.removed[path]
	l.mu.Unlock()
	if own {
		return true
	}
	if !removed || l.opts.Now().Sub(at) > l.opts.EchoWindow {
		return false
	}
	// A file there now is someone else's: the Locker's is gone.
	_, err := l.t.Lstat(path)
	return errors.Is(err, fs.ErrNotExist)
}

// begin waits until no other call is working on path and marks it busy;
// the returned function ends the call.
func (l *Locker) begin(path string) func() {
	l.mu.Lock()
	for {
		ch, ok := l.inflight[path]
		if !ok {
			break
		}
		l.mu.Unlock()
		<-ch
		l.mu.Lock()
	}
	ch := make(chan struct{})
	l.inflight[path] = ch
	l.mu.Unlock()
	return func() {
		l.mu.Lock()
		delete(l.inflight, path)
		l.mu.Unlock()
		close(ch)
	}
}

func (l *Locker) record(path string) (store.LockRecord, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	r, ok := l.held[path]
	return r, ok
}

func (l *Locker) setHeld(r store.LockRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, ok := l.held[r.Path]; ok {
		for _, lf := range splitLockFiles(old.LockFile) {
			delete(l.own, lf)
		}
	}
	l.held[r.Path] = r
	for _, lf := range splitLockFiles(r.LockFile) {
		l.own[lf] = r.Path
		delete(l.removed, lf)
	}
}

func (l *Locker) dropHeld(path string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if old, ok := l.held[path]; ok {
		for _, lf := range splitLockFiles(old.LockFile) {
			delete(l.own, lf)
		}
	}
	delete(l.held, path)
}

func (l *Locker) step(name string) {
	if l.crash != nil {
		l.crash(name)
	}
}

func (l *Locker) warn(path string, err error) {
	if l.opts.Warn != nil {
		l.opts.Warn(path, err)
	}
}
