package store

import (
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/wire"
)

var (
	bucketSessions    = []byte("sessions")
	bucketStates      = []byte("states")
	bucketIndex       = []byte("index")
	bucketIndexHosts  = []byte("indexhosts")
	bucketIndexNew    = []byte("indexnew")
	bucketQuarantines = []byte("quarantines")
	bucketEvents      = []byte("events")
	bucketAgents      = []byte("agents")
	bucketSettings    = []byte("settings")
)

var hubBuckets = [][]byte{
	bucketSessions, bucketStates, bucketIndex, bucketIndexHosts, bucketIndexNew,
	bucketQuarantines, bucketEvents, bucketAgents, bucketSettings, bucketAway, bucketHeld, bucketRoots,
}

// Hub is the hub's state in hub.db. Its methods are safe for concurrent use.
type Hub struct {
	db *bolt.DB
}

// OpenHub opens (creating if needed) the hub database at path. It fails
// after a second, wrapping ErrLocked, if another process has it open.
func OpenHub(path string) (*Hub, error) {
	db, err := open(path, roleHub, hubBuckets)
	if err != nil {
		return nil, err
	}
	// Batch serves concurrent writers (agents' handlers logging events);
	// a short delay keeps a lone writer from waiting the default 10 ms.
	db.MaxBatchDelay = 2 * time.Millisecond
	// A ReplaceIndex interrupted by a crash leaves its scratch bucket.
	err = db.Update(func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketIndexNew); err != nil {
			return err
		}
		_, err := tx.CreateBucket(bucketIndexNew)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return &Hub{db: db}, nil
}

// Close closes the database. Nothing may use h afterwards.
func (h *Hub) Close() error {
	if err := h.db.Close(); err != nil {
		return fmt.Errorf("store: close %s: %w", h.db.Path(), err)
	}
	return nil
}

// HostRoot is one host of a session and its watch-set root there.
type HostRoot struct {
	Host string `json:"host"`
	Root string `json:"root"`
}

// Session is a file collaboration session's configuration.
type Session struct {
	Name             string           `json:"name"`
	Hosts            []HostRoot       `json:"hosts"`
	Exclude          []string         `json:"exclude,omitempty"`
	Options          conflict.Options `json:"options"`
	TargetProtection bool             `json:"target_protection"`
	ProtectDays      int              `json:"protect_days,omitempty"`
	// LockGrace is how long a disconnected writer's targets stay locked;
	// nil (a session stored before the setting existed) means the default.
	LockGrace *time.Duration `json:"lock_grace,omitempty"`
	// Delta and DeltaMin are the session's delta compression; nil (a
	// session stored before the setting existed) means on, 0 the default.
	Delta    *bool `json:"delta,omitempty"`
	DeltaMin int64 `json:"delta_min,omitempty"`
	// DeleteGuardPercent and DeleteGuardMin are the mass-delete breaker's
	// threshold; 0 (a session stored before the setting existed) means the
	// default.
	DeleteGuardPercent int       `json:"delete_guard_percent,omitempty"`
	DeleteGuardMin     int       `json:"delete_guard_min,omitempty"`
	Created            time.Time `json:"created"`
}

// HostNames returns the session's hosts in their configured order.
func (s *Session) HostNames() []string {
	names := make([]string, len(s.Hosts))
	for i, h := range s.Hosts {
		names[i] = h.Host
	}
	return names
}

// PutSession creates or replaces a session's configuration. A zero Created
// keeps the stored one, or is set to now for a new session.
func (h *Hub) PutSession(s Session) error {
	if err := wire.CheckName("session", s.Name); err != nil {
		return fmt.Errorf("store: put session: %w", err)
	}
	err := h.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		if s.Created.IsZero() {
			var old Session
			ok, err := getJSON(b, []byte(s.Name), &old)
			if err != nil {
				return err
			}
			s.Created = old.Created
			if !ok {
				s.Created = time.Now()
			}
		}
		return putJSON(b, []byte(s.Name), s)
	})
	if err != nil {
		return fmt.Errorf("store: put session %s: %w", s.Name, err)
	}
	return nil
}

// Session returns a session's configuration, or an error wrapping
// ErrNotFound.
func (h *Hub) Session(name string) (Session, error) {
	var s Session
	err := h.db.View(func(tx *bolt.Tx) error {
		var err error
		s, err = getSession(tx, name)
		return err
	})
	if err != nil {
		return Session{}, fmt.Errorf("store: session %s: %w", name, err)
	}
	return s, nil
}

// getSession reads a session in tx; ErrNotFound if there is none.
func getSession(tx *bolt.Tx, name string) (Session, error) {
	var s Session
	ok, err := getJSON(tx.Bucket(bucketSessions), []byte(name), &s)
	if err == nil && !ok {
		err = ErrNotFound
	}
	return s, err
}

// Sessions returns every session, ordered by name.
func (h *Hub) Sessions() ([]Session, error) {
	var out []Session
	err := h.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSessions)
		return b.ForEach(func(k, _ []byte) error {
			var s Session
			_, err := getJSON(b, k, &s)
			out = append(out, s)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: sessions: %w", err)
	}
	return out, nil
}

// DeleteSession deletes a session and everything kept for it: its state,
// index, File Conflict List and event log. Deleting a session that does not
// exist is not an error.
func (h *Hub) DeleteSession(name string) error {
	err := h.db.Update(func(tx *bolt.Tx) error {
		k := []byte(name)
		for _, top := range [][]byte{bucketSessions, bucketStates, bucketIndexHosts} {
			if err := tx.Bucket(top).Delete(k); err != nil {
				return err
			}
		}
		for _, top := range [][]byte{bucketIndex, bucketIndexNew, bucketQuarantines, bucketEvents, bucketAway, bucketHeld, bucketRoots} {
			if err := deleteSub(tx, top, name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: delete session %s: %w", name, err)
	}
	return nil
}

// Desired states of a session: what the administrator last asked for, so a
// restarted hub resumes the sessions that were running.
const (
	DesiredRunning = "running"
	DesiredStopped = "stopped"
)

// SessionState is a session's persistent run state.
type SessionState struct {
	Phase    string    `json:"phase"`
	Error    string    `json:"error,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	Finished time.Time `json:"finished,omitzero"`
	// Desired is DesiredRunning, DesiredStopped, or "" (never asked).
	Desired string `json:"desired,omitempty"`
}

// SessionState returns a session's run state; an error wrapping ErrNotFound
// if none was ever stored.
func (h *Hub) SessionState(name string) (SessionState, error) {
	var st SessionState
	err := h.db.View(func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket(bucketStates), []byte(name), &st)
		if err == nil && !ok {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return SessionState{}, fmt.Errorf("store: session state %s: %w", name, err)
	}
	return st, nil
}

// PutSessionState stores the run state of an existing session.
func (h *Hub) PutSessionState(name string, st SessionState) error {
	if st.Desired != "" && st.Desired != DesiredRunning && st.Desired != DesiredStopped {
		return fmt.Errorf("store: session state %s: desired state %q is neither %q nor %q",
			name, st.Desired, DesiredRunning, DesiredStopped)
	}
	err := h.db.Update(func(tx *bolt.Tx) error {
		if err := sessionExists(tx, name); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketStates), []byte(name), st)
	})
	if err != nil {
		return fmt.Errorf("store: session state %s: %w", name, err)
	}
	return nil
}

// sessionExists returns an error wrapping ErrNotFound unless the session is
// configured: nothing is stored for a session that was deleted meanwhile.
func sessionExists(tx *bolt.Tx, name string) error {
	if tx.Bucket(bucketSessions).Get([]byte(name)) == nil {
		return fmt.Errorf("session %w", ErrNotFound)
	}
	return nil
}

// AgentSeen is what the hub remembers of an agent that connected.
type AgentSeen struct {
	Name     string    `json:"name"`
	Version  string    `json:"version,omitempty"`
	Addr     string    `json:"addr,omitempty"`
	LastSeen time.Time `json:"last_seen"`
}

// PutAgentSeen records an agent, replacing what was known of it.
func (h *Hub) PutAgentSeen(a AgentSeen) error {
	if err := wire.CheckName("host", a.Name); err != nil {
		return fmt.Errorf("store: agent seen: %w", err)
	}
	err := h.db.Batch(func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bucketAgents), []byte(a.Name), a)
	})
	if err != nil {
		return fmt.Errorf("store: agent seen %s: %w", a.Name, err)
	}
	return nil
}

// AgentsSeen returns every agent ever recorded, ordered by name.
func (h *Hub) AgentsSeen() ([]AgentSeen, error) {
	var out []AgentSeen
	err := h.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAgents)
		return b.ForEach(func(k, _ []byte) error {
			var a AgentSeen
			_, err := getJSON(b, k, &a)
			out = append(out, a)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: agents seen: %w", err)
	}
	return out, nil
}

// Setting returns the value of a hub setting, or an error wrapping
// ErrNotFound.
func (h *Hub) Setting(key string) ([]byte, error) {
	var v []byte
	err := h.db.View(func(tx *bolt.Tx) error {
		got := tx.Bucket(bucketSettings).Get([]byte(key))
		if got == nil {
			return ErrNotFound
		}
		v = slices.Clone(got)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: setting %s: %w", key, err)
	}
	return v, nil
}

// PutSetting stores a hub setting (for example the admin password hash).
func (h *Hub) PutSetting(key string, value []byte) error {
	if key == "" {
		return fmt.Errorf("store: put setting: empty key")
	}
	err := h.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSettings).Put([]byte(key), slices.Clone(value))
	})
	if err != nil {
		return fmt.Errorf("store: put setting %s: %w", key, err)
	}
	return nil
}

// DeleteSetting removes a hub setting; removing an absent one is no error.
func (h *Hub) DeleteSetting(key string) error {
	if key == "" {
		return nil
	}
	err := h.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSettings).Delete([]byte(key))
	})
	if err != nil {
		return fmt.Errorf("store: delete setting %s: %w", key, err)
	}
	return nil
}
