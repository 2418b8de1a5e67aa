package agent

import (
	"errors"
	"fmt"
	"slices"

	"github.com/peerlink/peerlink/sync/lock"
	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/wire"
)

// Journaled locks of sessions that are not attached. A lock stays in
// agent.db, and on the file, across the agent's restarts and the hub's
// absence, until the hub's word settles it (see the hub's running.go): an
// Unlock or a Detach of a session that is not attached here (the host
// came back while the session waits for another host, or was away when
// it ended), the Sessions message at each connection (a session not
// running with this host any more), and an attachment on another root. A
// hub that is down says nothing, so nothing is undone: the writer may
// still be at work, and the locks stay for the session's grace period.
// These run in the serve loop, like Attach and Detach, so no Locker of the
// session is at work meanwhile.

// newLocker returns the Locker of session on t, warning in the log of what
// weakens a lock.
func (a *Agent) newLocker(t *tree.Tree, session string) (*lock.Locker, error) {
	return lock.New(t, a.db, session, lock.Options{
		Warn: func(path string, err error) {
			a.log.Warn().Str("session", session).Str("path", path).Err(err).Msg("lock")
		},
	})
}

// settleSessions undoes the journaled locks of every session that is not
// attached here and that the hub does not list as running with this host:
// it was stopped or deleted, or this host taken out of it, while the agent
// was away.
func (a *Agent) settleSessions(m *wire.Sessions) {
	a.log.Debug().Strs("running", m.Running).Msg("sessions running with this host, as the hub says")
	recs, err := a.db.Locks("")
	if err != nil {
		a.log.Error().Err(err).Msg("read the lock journal: locks of stopped or deleted sessions stay until the agent connects again")
		return
	}
	var stale []string
	for _, r := range recs {
		if !slices.Contains(m.Running, r.Session) && !slices.Contains(stale, r.Session) && !a.attached(r.Session) {
			stale = append(stale, r.Session)
		}
	}
	for _, name := range stale {
		n, err := a.undoLocks(name, "", nil)
		if n > 0 {
			a.log.Info().Str("session", name).Int("locks", n).Msg("undid the locks of a session that no longer runs with this host")
		}
		if err != nil {
			a.log.Error().Err(err).Str("session", name).Msg("undo the locks of a session that no longer runs with this host")
		}
	}
}

func (a *Agent) attached(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sessions[name] != nil
}

// undoLocks undoes the journaled locks of session (only those of paths,
// if paths is not nil) on the roots they were taken on, except skipRoot:
// the root being attached, whose Locker settles its own, with those
// journaled without a root. It returns how many it undid. A lock that
// cannot be undone stays journaled, and the error says why.
func (a *Agent) undoLocks(session, skipRoot string, paths []string) (int, error) {
	recs, err := a.db.Locks(session)
	if err != nil {
		return 0, fmt.Errorf("session %s: read the lock journal: %w", session, err)
	}
	byRoot := map[string][]string{}
	for _, r := range recs {
		if paths != nil && !slices.Contains(paths, r.Path) {
			continue
		}
		if skipRoot != "" && (r.Root == skipRoot || r.Root == "") {
			continue
		}
		byRoot[r.Root] = append(byRoot[r.Root], r.Path)
	}
	n := 0
	var errs []error
	for root, ps := range byRoot {
		if root == "" {
			errs = append(errs, fmt.Errorf("session %s: %d lock(s), e.g. of %s, were journaled without their root by an older agent: they are undone when the session attaches this host again; to release one now, as root: chattr -i FILE, and give back its write bits with chmod", session, len(ps), ps[0]))
			continue
		}
		done, err := a.undoOn(session, root, ps, paths == nil)
		n += done
		if err != nil {
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

// undoOn undoes the locks of session on root at paths (all of them on that
// root if all).
func (a *Agent) undoOn(session, root string, paths []string, all bool) (int, error) {
	t, err := tree.OpenFor(root, a.cfg.Name)
	if err != nil {
		return 0, fmt.Errorf("session %s: undo %d lock(s) on %s: %w; they stay journaled and are tried again at the next connection", session, len(paths), root, err)
	}
	defer t.Close()
	l, err := a.newLocker(t, session)
	if err != nil {
		return 0, fmt.Errorf("session %s: %w", session, err)
	}
	if all {
		err = l.Reconcile(nil)
	} else {
		var errs []error
		for _, p := range paths {
			errs = append(errs, l.Unlock(p))
		}
		err = errors.Join(errs...)
	}
	n := 0
	for _, p := range paths {
		if !l.Locked(p) {
			n++
		}
	}
	if err != nil {
		err = fmt.Errorf("session %s: undo locks on %s: %w", session, root, err)
	}
	return n, err
}
