package hub

import (
	"errors"
	"fmt"
	"time"

	"github.com/peerlink/peerlink/web/api"
)

// A catch-up that fails (issue 14: "a returning host whose scan fails
// half-way"). Nothing of a failed round's scan is merged: a scan cut
// short would pass its unscanned part for deleted. The host stays away,
// its error in its status and the event log, and is tried again with a
// backoff (catchUpRetryMin, doubling to catchUpRetryMax) while it stays
// connected, since what failed (a disk, a mount, the agent's database)
// may come back without the agent reconnecting; connecting again retries
// at once. A root refused (rootid.go) is not retried: an operator acts,
// or the host reconnects.

// Bounds of the wait before a failed catch-up is tried again.
const (
	catchUpRetryMin = 2 * time.Second
	catchUpRetryMax = 5 * time.Minute
)

// catchUpFailed ends a catch-up that failed: the host stays away until
// its retry (or, its root refused, until it reconnects).
func (r *run) catchUpFailed(host string, a *awayHost, err error) {
	a.catching.cancel()
	a.catching, a.failed = nil, true
	r.setAwayStatus(host, api.HostAway, a.since)
	var re *rootError
	if errors.As(err, &re) {
		a.retryAt = time.Time{}
		r.noteRootRefused(host, err)
		r.kickHosts()
		return
	}
	wait := catchUpRetryMin << min(a.retries, 20)
	wait = min(wait, catchUpRetryMax)
	a.retries++
	a.retryAt = time.Now().Add(wait)
	msg := fmt.Sprintf("%s; nothing of this catch-up was merged, so nothing is deleted or sent anywhere; %s stays away and is tried again in %s (attempt %d)",
		err, host, wait.Round(time.Second), a.retries+1)
	r.log.Warn().Err(err).Str("host", host).Dur("retry_in", wait).Msg("catch-up failed; tried again later")
	// The status first: whoever reads the event then finds the status
	// saying the same.
	r.setHostError(host, errors.New(msg))
	r.event("catch-up-failed", host, "", msg)
	r.kickHosts()
}

// retryDue says whether a's failed catch-up may be tried again now.
func (a *awayHost) retryDue(now time.Time) bool {
	return !a.failed || !a.retryAt.IsZero() && !now.Before(a.retryAt)
}

// nextRetry returns when the first failed catch-up is due again.
// None while a catch-up runs: one at a time, and its end looks again.
func (r *run) nextRetry() (time.Time, bool) {
	var at time.Time
	if r.catchingUp() != "" {
		return at, false
	}
	for _, a := range r.away {
		if a.failed && !a.retryAt.IsZero() && (at.IsZero() || a.retryAt.Before(at)) {
			at = a.retryAt
		}
	}
	return at, !at.IsZero()
}
