package hub

import (
	"time"

	"github.com/peerlink/peerlink/wire"
)

// A target reports what a fetch left as any other change (its watcher
// cannot always tell its own writes from a user's), and it may report it
// late: after the next version from the same writer was already applied,
// or while that writer holds the file open again. Compared with the index
// alone, such a report looks like a change of the target's own, or like a
// second writer. So the live loop remembers, for a while, every version it
// had each host apply, and a report of one of them is an echo.

const (
	// recentFor is how long an applied version is remembered.
	recentFor = time.Minute
	// maxRecent bounds the versions remembered per path and host.
	maxRecent = 8
)

// appliedVersion is a version of a path the live loop had a host apply.
type appliedVersion struct {
	entry wire.Entry
	at    time.Time
}

// recentApplied holds, by path and host, the versions applied lately.
type recentApplied struct {
	by     map[string]map[string][]appliedVersion
	pruned time.Time
}

// remember records that host now holds e.
func (ra *recentApplied) remember(host string, e wire.Entry, now time.Time) {
	if ra.by == nil {
		ra.by = map[string]map[string][]appliedVersion{}
	}
	if now.Sub(ra.pruned) > recentFor {
		ra.prune(now)
	}
	m := ra.by[e.Path]
	if m == nil {
		m = map[string][]appliedVersion{}
		ra.by[e.Path] = m
	}
	vs := append(m[host], appliedVersion{e, now})
	if len(vs) > maxRecent {
		vs = vs[len(vs)-maxRecent:]
	}
	m[host] = vs
}

// echo reports whether e is a version host was made to hold lately.
func (ra *recentApplied) echo(host string, e wire.Entry, now time.Time) bool {
	for _, v := range ra.by[e.Path][host] {
		if v.entry == e && now.Sub(v.at) <= recentFor {
			return true
		}
	}
	return false
}

// prune drops what is older than recentFor.
func (ra *recentApplied) prune(now time.Time) {
	ra.pruned = now
	for p, m := range ra.by {
		for h, vs := range m {
			i := 0
			for i < len(vs) && now.Sub(vs[i].at) > recentFor {
				i++
			}
			if i == len(vs) {
				delete(m, h)
			} else {
				m[h] = vs[i:]
			}
		}
		if len(m) == 0 {
			delete(ra.by, p)
		}
	}
}
