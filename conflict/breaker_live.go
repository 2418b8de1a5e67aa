package conflict

import (
	"time"

	"github.com/peerlink/peerlink/wire"
)

// The breaker on the live path. A running session's deletions arrive in
// batches, so one mass delete (rm -rf of a project, a share unmounted
// under a watcher) reaches the hub as many batches: a host's removes that
// come less than BurstWindow apart add up to one burst, which trips the
// guard as a scan's deletions would.

// BurstWindow is how far apart one host's live removes may come and still
// count as one burst.
const BurstWindow = time.Minute

// Burst counts one host's recent live deletions.
type Burst struct {
	Files int
	Last  time.Time
}

// Add returns b with files more deleted at now; a pause longer than
// BurstWindow since the last one starts a new burst.
func (b Burst) Add(files int, now time.Time) Burst {
	if b.Last.IsZero() || now.Sub(b.Last) > BurstWindow {
		b = Burst{}
	}
	return Burst{Files: b.Files + files, Last: now}
}

// Reached says whether files deletions are enough for g to trip on their
// share of the session: below it, the share need not be counted.
func (g Guard) Reached(files int) bool {
	return g.Percent < 100 && files > 0 && files >= g.Min
}

// BurstTrip says whether a host's burst trips g against the total files
// the session tracks, and why. A host whose deletions are already held
// has every later one held too, whatever their number: approving or
// discarding them is one decision, the operator's.
func (g Guard) BurstTrip(b Burst, held bool, total int) (string, bool) {
	if held {
		return HeldMassDelete, true
	}
	return g.Trip(b.Files, total, false)
}

// LiveRemoves returns the indexes of batch's removes the breaker counts:
// every remove but those of quarantined paths, which the File Conflict
// List settles.
func LiveRemoves(batch []wire.Change, quarantined func(string) bool) []int {
	var out []int
	for i, ch := range batch {
		if ch.Kind == wire.ChangeRemove && !quarantined(ch.Path) {
			out = append(out, i)
		}
	}
	return out
}

// WithoutHeld returns batch without its removes of held paths or of paths
// below one: those are deleted nowhere else until an operator approves.
func WithoutHeld(batch []wire.Change, held map[string]bool) []wire.Change {
	out := batch[:0:0]
	for _, ch := range batch {
		if ch.Kind == wire.ChangeRemove && UnderAny(ch.Path, held) {
			continue
		}
		out = append(out, ch)
	}
	return out
}
