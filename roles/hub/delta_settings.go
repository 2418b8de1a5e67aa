package hub

import "github.com/peerlink/peerlink/web/api"

// defaultDelta fills a session's unset delta settings with the defaults:
// on, for files of api.DefaultDeltaMin and more.
func defaultDelta(on **bool, min *int64) {
	if *on == nil {
		yes := true
		*on = &yes
	}
	if *min == 0 {
		*min = api.DefaultDeltaMin
	}
}

// deltaAllowed reports whether cfg lets a file of size bytes travel as a
// delta against a target's older copy.
func deltaAllowed(cfg *api.SessionConfig, size int64) bool {
	if cfg.Delta != nil && !*cfg.Delta {
		return false
	}
	least := cfg.DeltaMin
	if least == 0 {
		least = api.DefaultDeltaMin
	}
	return size >= least
}
