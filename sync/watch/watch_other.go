//go:build !linux || watch_fsnotify

package watch

// The portable detector, on fsnotify: what every platform can tell, which
// is tree changes and modifications, never opens or closes. Linux builds
// use the raw inotify detector instead (the _linux.go files) unless built
// with -tags watch_fsnotify, which is how the _other.go files are tested
// on Linux.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watcher reports what happens below one root. Create it with New, read
// Events until the channel is closed, then Err tells why it stopped.
type Watcher struct {
	root string
	opts Options
	fsw  *fsnotify.Watcher

	events chan Event
	life

	// Owned by the loop goroutine (by New before it starts).
	dirs      map[string]bool      // watched folders by path ("" is the root)
	written   map[string]time.Time // files with a WriteOpen reported: their last modification
	locks     map[string]*lockState
	rename    *pendingRename
	movedDirs map[string]bool   // folders renamed or moved away: their own echo of it is ignored
	dirMoves  map[string]string // recent folder renames, old path to new
	lastQuiet time.Time
	initial   []Event // found by New: sent first
	limited   bool    // a folder could not be added (a watch limit)
	limitEv   *Event  // its Limited, to send once what is being handled is
}

// New starts watching root, an absolute path to a folder. Modes other than
// Auto and InotifyOnly need Linux; this build always works as InotifyOnly.
func New(ctx context.Context, root string, opts Options) (*Watcher, error) {
	if !filepath.IsAbs(root) {
		return nil, fmt.Errorf("watch: root %q is not an absolute path", root)
	}
	switch opts.Mode {
	case Auto, InotifyOnly:
	case Fanotify, Lease:
		return nil, fmt.Errorf("watch %s: %v mode needs the Linux build (this one is portable, on %s)", root, opts.Mode, runtime.GOOS)
	default:
		return nil, fmt.Errorf("watch %s: unknown mode %d", root, opts.Mode)
	}
	if opts.Tree == TreeFanotify {
		return nil, fmt.Errorf("watch %s: tree changes by fanotify need the Linux build (this one is portable, on %s)", root, runtime.GOOS)
	}
	root = filepath.Clean(root)
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("watch %s: not a folder", root)
	}
	fsw, err := fsnotify.NewWatcher()
	if err != nil {
		if lerr := limitError(root, err); lerr != nil {
			return nil, lerr
		}
		return nil, fmt.Errorf("watch %s: %w", root, err)
	}
	w := &Watcher{
		root: root, opts: opts, fsw: fsw,
		events:    make(chan Event, 256),
		life:      newLife(),
		dirs:      map[string]bool{},
		written:   map[string]time.Time{},
		locks:     map[string]*lockState{},
		movedDirs: map[string]bool{},
		dirMoves:  map[string]string{},
	}
	if err := w.addTree("", func(ev Event) { w.initial = append(w.initial, ev) }, true); err != nil {
		fsw.Close()
		return nil, err
	}
	go func() {
		select {
		case <-ctx.Done():
			w.stop(nil)
		case <-w.done:
		}
	}()
	go w.loop()
	return w, nil
}

// Events returns the channel events arrive on. It is closed when the
// watcher stops. It must be drained.
func (w *Watcher) Events() <-chan Event { return w.events }

// Mode returns the detection in use: InotifyOnly (first modification) here.
func (w *Watcher) Mode() Mode { return InotifyOnly }

// Tree returns where tree changes come from: TreeInotify (fsnotify) here.
func (w *Watcher) Tree() Tree { return TreeInotify }

// TreeFallback says why TreeAuto did not use fanotify: this build has none.
func (w *Watcher) TreeFallback() error { return errors.ErrUnsupported }

// Writing tells, of each of paths, whether some process has it open for
// writing now. The portable build cannot tell: the map is empty.
func (w *Watcher) Writing(paths []string) map[string]bool { return map[string]bool{} }

// Writers returns the files below the root open for writing now, where the
// mode can find them: the portable build cannot; nil.
func (w *Watcher) Writers() []string { return nil }

// Root returns the root as given to New, cleaned.
func (w *Watcher) Root() string { return w.root }

// rel returns the watch-set path of an fsnotify name, or false.
func (w *Watcher) rel(name string) (string, bool) {
	r, err := filepath.Rel(w.root, name)
	if err != nil || r == "." || strings.HasPrefix(r, ".."+string(filepath.Separator)) || r == ".." {
		return "", false
	}
	r = filepath.ToSlash(r)
	return r, validPath(r)
}

func (w *Watcher) abs(rel string) string { return filepath.Join(w.root, filepath.FromSlash(rel)) }

// limitError returns the *LimitError for err, if err is a limit.
func limitError(root string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		limit := readSysctl("fs.inotify.max_user_watches")
		return &LimitError{Root: root, What: "inotify watch limit", Sysctl: "fs.inotify.max_user_watches",
			Value: limit, Suggest: max(2*limit, 1<<20), Err: err}
	case errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE):
		return &LimitError{Root: root, What: "open-file limit", Err: err,
			Detail: "this platform's watcher holds a descriptor per watched file and folder: raise the open-file limit (ulimit -n; on macOS also launchctl limit maxfiles)"}
	}
	return nil
}
