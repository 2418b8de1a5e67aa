package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/store"
)

// An agent that stops cleanly leaves no copy locked: users of its file
// server could not save a file that no agent will ever release, and the
// folder could not even be removed (the immutable flag). So a clean stop
// undoes every lock the agent journaled, and `peerlink agent unlock` does
// the same offline for a host whose agent will not run again. When the
// agent comes back, the writers still at work elsewhere have their files
// locked again (the start-up relocks every file open for writing).

// releaseAll undoes every journaled lock, of every session, and returns how
// many it undid.
func (a *Agent) releaseAll() (int, error) {
	recs, err := a.db.Locks("")
	if err != nil {
		return 0, fmt.Errorf("read the lock journal: %w", err)
	}
	var sessions []string
	for _, r := range recs {
		if !slices.Contains(sessions, r.Session) {
			sessions = append(sessions, r.Session)
		}
	}
	n := 0
	var errs []error
	for _, s := range sessions {
		done, err := a.undoLocks(s, "", nil)
		n += done
		errs = append(errs, err)
	}
	return n, errors.Join(errs...)
}

// Unlock undoes every lock journaled under dataDir, for an agent that is
// not running; it returns how many it undid. An agent that is running
// holds agent.db, and Unlock says to stop it first.
func Unlock(dataDir string, log zerolog.Logger) (int, error) {
	path := filepath.Join(dataDir, "agent.db")
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("agent unlock --data %s: no agent state there (%w): give the --data folder the agent ran with", dataDir, err)
	}
	db, err := store.OpenAgent(path)
	if err != nil {
		return 0, fmt.Errorf("agent unlock --data %s: %w (stop the agent first: a clean stop undoes its locks itself)", dataDir, err)
	}
	a := &Agent{log: log, db: db, sessions: map[string]*attached{}, graces: map[string]time.Duration{}}
	n, err := a.releaseAll()
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return n, err
}
