package hub

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/peerlink/peerlink/wire"
)

// A report is taken for an echo exactly when it is a version the hub had
// that host apply, of that path, within recentFor, among the last
// maxRecent such versions; anything else (another host's, another path's,
// an older one, a version never applied: a user's change) is not.
func TestRecentAppliedIsAnEchoOnlyOfWhatWasApplied(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var ra recentApplied
		type key struct {
			host string
			e    wire.Entry
		}
		type applied struct {
			key
			at time.Time
		}
		var log []applied
		now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
		hosts := []string{"a", "b", "c"}
		entry := func() wire.Entry {
			return wire.Entry{Path: []string{"x", "y", "d/z"}[rng.IntN(3)], Kind: wire.KindFile, Size: int64(rng.IntN(4)), Mtime: int64(rng.IntN(4)), Mode: 0o644}
		}
		for step := range 300 {
			now = now.Add(time.Duration(rng.IntN(int(recentFor/4))) + time.Millisecond)
			h, e := hosts[rng.IntN(3)], entry()
			if rng.IntN(2) == 0 {
				ra.remember(h, e, now)
				log = append(log, applied{key{h, e}, now})
				continue
			}
			// The model: among h's last maxRecent versions of e.Path, one
			// equal to e and applied within recentFor.
			want, n := false, 0
			for i := len(log) - 1; i >= 0 && n < maxRecent; i-- {
				if log[i].host != h || log[i].e.Path != e.Path {
					continue
				}
				n++
				if log[i].e == e && now.Sub(log[i].at) <= recentFor {
					want = true
				}
			}
			if got := ra.echo(h, e, now); got != want {
				t.Fatalf("round %d step %d: echo(%s, %+v) = %v, want %v", round, step, h, e, got, want)
			}
		}
	}
}
