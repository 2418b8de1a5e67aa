package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/peerlink/peerlink/wire"
)

// Paths the users here removed lately. A live fetch of a new file into a
// folder they just removed (the file was saved elsewhere as they deleted
// the folder here: make chaos, seed 1) is refused rather than made by
// creating the folder again: taking the file would list this host among
// its holders, and the hub would then carry the folder's removal to the
// others whole, the new file with it, leaving the only copy here. Refused,
// the hub keeps the file and its folder everywhere else
// (conflict/live_keep.go) and brings them back here by the repair of the
// lag, once the removal is no longer recent.

// removedFor is how long a removal counts as recent.
const removedFor = 10 * time.Second

// maxRemovals bounds the removals remembered: past it the oldest are
// forgotten (a burst of deletions is then guarded only in part).
const maxRemovals = 4096

// removals are the paths removed lately, by when.
type removals struct {
	mu sync.Mutex
	at map[string]time.Time
}

// note remembers path as removed now.
func (r *removals) note(path string) {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.at == nil {
		r.at = map[string]time.Time{}
	}
	if len(r.at) >= maxRemovals {
		for p, t := range r.at {
			if now.Sub(t) > removedFor {
				delete(r.at, p)
			}
		}
		if len(r.at) >= maxRemovals {
			clear(r.at)
		}
	}
	r.at[path] = now
}

// clear forgets every removal noted.
func (r *removals) clear() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.at)
}

// recent says whether path was removed less than removedFor ago, and how
// long ago.
func (r *removals) recent(path string) (time.Duration, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.at[path]
	if !ok {
		return 0, false
	}
	if ago := time.Since(t); ago < removedFor {
		return ago, true
	}
	delete(r.at, path)
	return 0, false
}

// refuseRemoved refuses a fetch of path that the users here removed lately
// themselves, where the hub expects nothing here (have nil): their
// removal is on its way to the hub, which planned the fetch before it
// heard of it (make chaos, seed 4035); or a fetch into a missing folder
// (or one above it) that they removed lately (seed 1).
func (l *live) refuseRemoved(path string, have *wire.Entry) error {
	if l == nil {
		return nil
	}
	if ago, ok := l.removed.recent(path); ok && have == nil {
		return &wire.Error{Kind: wire.KindChanged, Path: path, Msg: fmt.Sprintf(
			"removed here %s ago: not made again", ago.Round(time.Millisecond))}
	}
	for dir := wire.Parent(path); dir != ""; dir = wire.Parent(dir) {
		ago, ok := l.removed.recent(dir)
		if !ok {
			continue
		}
		if _, err := l.s.tree.Lstat(dir); !errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return &wire.Error{Kind: wire.KindChanged, Path: path, Msg: fmt.Sprintf(
			"its folder %s was removed here %s ago: not made again for it", dir, ago.Round(time.Millisecond))}
	}
	return nil
}
