package api

import (
	"errors"
	"fmt"
	"time"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/wire"
)

// HostRoot is one participant of a session and the root folder of its watch
// set, as a path on that host.
type HostRoot struct {
	Host string `json:"host"`
	Root string `json:"root"`
}

// SessionConfig is what an administrator defines for a session.
type SessionConfig struct {
	Name    string           `json:"name"`
	Hosts   []HostRoot       `json:"hosts"`
	Exclude []string         `json:"exclude,omitempty"`
	Options conflict.Options `json:"options"`
	// TargetProtection keeps, on a target host, the copy peerlink is about
	// to overwrite or delete, for ProtectDays days. Nil means on (the
	// default); the hub always answers with it set.
	TargetProtection *bool `json:"target_protection,omitempty"`
	ProtectDays      int   `json:"protect_days,omitempty"` // 0 means DefaultProtectDays
	// LockGrace is how long the targets of a file stay locked after the
	// host of its writer (the lock's source) disconnected, in case the
	// writer comes back, as a Go duration ("5m0s", "90s"); "0s" releases
	// them at once. Nil means DefaultLockGrace; the hub always answers
	// with it set.
	LockGrace *Duration `json:"lock_grace,omitempty"`
	// Delta is the seed's step 5, delta compression: a target that holds an
	// older copy of a file receives only the parts that differ. Nil means on
	// (the default); the hub always answers with it set.
	Delta *bool `json:"delta,omitempty"`
	// DeltaMin is the smallest file, in bytes, that delta applies to; a
	// smaller one is sent whole, where the signature's round trips would
	// cost more than its bytes. 0 means DefaultDeltaMin; the hub always
	// answers with it set.
	DeltaMin int64 `json:"delta_min,omitempty"`
	// DeleteGuardPercent and DeleteGuardMin are the mass-delete breaker
	// (issue 14): one host's deletions, at a scan or in a live burst, of
	// at least DeleteGuardMin files and more than DeleteGuardPercent of
	// the session's files are held until an operator approves or discards
	// them (a root that turns up empty counts as 100%). 0 means the defaults;
	// 100 percent turns the guard off. The hub always answers with both set.
	DeleteGuardPercent int `json:"delete_guard_percent,omitempty"`
	DeleteGuardMin     int `json:"delete_guard_min,omitempty"`
}

// Defaults of the mass-delete breaker: half a session's files, and at
// least a thousand, so that an ordinary cleanup never trips it.
const (
	DefaultDeleteGuardPercent = 50
	DefaultDeleteGuardMin     = 1000
	// MaxDeleteGuardMin bounds SessionConfig.DeleteGuardMin.
	MaxDeleteGuardMin = 1_000_000_000
)

// DefaultProtectDays is how long protected copies are kept unless a
// session says otherwise.
const DefaultProtectDays = 30

// DefaultLockGrace is a session's lock grace period unless it says
// otherwise.
const DefaultLockGrace = 5 * time.Minute

// DefaultDeltaMin is the smallest file delta applies to unless a session
// says otherwise. Over a 50 Mbit/s link a MiB crosses in about 170 ms, what
// the signature exchange costs at a 40 ms round trip: below it, sending the
// file whole is as fast and costs no reads of the old copy.
const DefaultDeltaMin = 1 << 20

// Duration is a time.Duration that JSON carries as Go writes one: "5m0s".
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText writes d as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a Go duration ("5m", "1h30m", "0s").
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: write it as Go does, e.g. 90s, 5m or 1h30m", b)
	}
	*d = Duration(v)
	return nil
}

// Phase is where a session is in its life.
type Phase string

const (
	PhaseStopped   Phase = "stopped"
	PhaseAttaching Phase = "attaching"
	PhaseScanning  Phase = "scanning"
	PhaseMerging   Phase = "merging"
	PhaseSyncing   Phase = "synchronising"
	PhaseRunning   Phase = "running"
	PhaseFailed    Phase = "failed"
)

// Counter is progress towards a total.
type Counter struct {
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
}

// HostStatus is one participant's state in a session.
type HostStatus struct {
	Host      string `json:"host"`
	Root      string `json:"root"`
	Connected bool   `json:"connected"`
	// State is waiting, attached, scanning, scanned, applying, synced or
	// failed during a start; away or catching-up while the session runs
	// without the host (it is live in every other state).
	State  string `json:"state"`
	Error  string `json:"error,omitempty"`
	Files  int64  `json:"files"` // files and folders its scan found
	Bytes  int64  `json:"bytes"`
	Hashed int64  `json:"hashed"` // files whose content its scan read
	// Held is how many files and folders under its root the index says it
	// holds, counted when the initial synchronisation ends: the same on
	// every host of a synchronised session, whatever each one's scan found.
	Held int64 `json:"held"`
	// AwaySince is when the host left the running session, which goes on
	// without it; zero while it takes part.
	AwaySince time.Time `json:"away_since,omitzero"`
	// CatchUp counts the paths changed elsewhere since the host left
	// (created, changed, renamed or deleted), which its catch-up brings
	// it when it returns.
	CatchUp int64 `json:"catch_up,omitempty"`
	// Clock is the host's clock as the hub last measured it; nil before
	// the first measurement.
	Clock *Clock `json:"clock,omitempty"`
}

// ClockWarn is how far a host's clock may be off the hub's before the
// session status warns about it.
const ClockWarn = time.Second

// Clock is a host's clock as the hub measured it, NTP-style, from the
// timestamps of a request and its answer. Offsets between two hosts
// matter to "Last Modified Time Wins": offline edits closer in time than
// their clocks' skew are quarantined (reason clock-skew), not decided.
type Clock struct {
	// Offset is the host's clock minus the hub's: positive when it is ahead.
	Offset Duration `json:"offset"`
	// Error bounds the measurement: half its round trip.
	Error Duration `json:"error"`
	// Measured is when the sample this comes from was taken.
	Measured time.Time `json:"measured"`
}

// Host states of a running session's hosts that do not take part.
const (
	HostAway       = "away"
	HostCatchingUp = "catching-up"
)

// SessionStatus is a session's live state.
type SessionStatus struct {
	Phase       Phase        `json:"phase"`
	Reason      string       `json:"reason,omitempty"` // why it failed
	Started     time.Time    `json:"started,omitzero"`
	Synced      time.Time    `json:"synced,omitzero"` // end of the initial synchronisation
	Hosts       []HostStatus `json:"hosts"`
	Files       Counter      `json:"files"`
	Bytes       Counter      `json:"bytes"`
	Errors      []wire.Error `json:"errors,omitempty"` // the first failures of this run
	ErrorCount  int          `json:"error_count"`
	Quarantined int          `json:"quarantined"`
	// Live counts what was propagated while the session ran.
	Live LiveCounters `json:"live"`
	// Locks is how many files are locked for a writer right now.
	Locks    int      `json:"locks"`
	Warnings []string `json:"warnings,omitempty"`
	// Transfers are file contents moving right now (see Transfer).
	Transfers []Transfer `json:"transfers,omitempty"`
	// HeldDeletions are the hosts whose deletions the mass-delete breaker
	// holds until an operator approves or discards them.
	HeldDeletions []HeldDeletions `json:"held_deletions,omitempty"`
}

// HeldDeletions are one host's deletions that would have removed too much
// of a session elsewhere: they are deleted nowhere else until approved
// (then deleted everywhere) or discarded (then brought back to the host).
type HeldDeletions struct {
	Host   string    `json:"host"`
	Paths  int       `json:"paths"` // files and folders
	Files  int       `json:"files"`
	Since  time.Time `json:"since"`
	Reason string    `json:"reason"` // empty-root or mass-delete
}

// Actions on held deletions.
const (
	DeletionsApprove = "approve"
	DeletionsDiscard = "discard"
)

// DeletionsRequest approves or discards a host's held deletions; Host may
// be empty where one host's are held.
type DeletionsRequest struct {
	Host   string `json:"host,omitempty"`
	Action string `json:"action"`
}

// ResetRootRequest takes Host's root as a new host's: refused because it
// is not the folder the session synchronised (a replaced or moved disk),
// it is merged at its next attach as at a first start.
type ResetRootRequest struct {
	Host string `json:"host"`
}

// DeletionsResult says what an approval or a discard did.
type DeletionsResult struct {
	Host   string `json:"host"`
	Action string `json:"action"`
	Paths  int    `json:"paths"` // the held paths acted on
}

// Transfer is a file content on its way to a host. The hub lists only
// files of at least TransferMinSize, and at most MaxTransfers of them, so
// that a start-up of many small files costs it nothing per file.
type Transfer struct {
	Path    string    `json:"path"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	Size    int64     `json:"size"`
	Done    int64     `json:"done"` // bytes so far; approximate when several go to one host at once
	Started time.Time `json:"started"`
}

// TransferMinSize and MaxTransfers bound SessionStatus.Transfers.
const (
	TransferMinSize = 1 << 20
	MaxTransfers    = 100
)

// LiveCounters count a running session's propagation.
type LiveCounters struct {
	Changes int64 `json:"changes"` // changes propagated
	Files   int64 `json:"files"`   // file contents among them
	Bytes   int64 `json:"bytes"`   // their size
}

// Lock is a file held by the host whose user opened it for writing.
type Lock struct {
	Path    string    `json:"path"`
	Source  string    `json:"source"`
	User    string    `json:"user,omitempty"`
	Since   time.Time `json:"since"`
	Targets []string  `json:"targets"`           // hosts whose copy is locked
	Writers []string  `json:"writers,omitempty"` // other hosts writing it at the same time
	// Until is set while the session is interrupted (a host disconnected):
	// the targets stay locked until then, in case the writer returns,
	// and are released then (see SessionConfig.LockGrace). Orphaned says
	// the source itself is the host that is gone.
	Until    time.Time `json:"until,omitzero"`
	Orphaned bool      `json:"orphaned,omitempty"`
}

// Session is a session's configuration and live state.
type Session struct {
	SessionConfig
	Status SessionStatus `json:"status"`
}

// Agent is an agent the hub knows of.
type Agent struct {
	Name      string    `json:"name"`
	Connected bool      `json:"connected"`
	Version   string    `json:"version,omitempty"`
	Addr      string    `json:"addr,omitempty"`
	LastSeen  time.Time `json:"last_seen,omitzero"`
	Clock     *Clock    `json:"clock,omitempty"` // as last measured; nil before that
}

// Status is the hub's overview.
type Status struct {
	Version  string  `json:"version"`
	Protocol int     `json:"protocol"`
	Agents   []Agent `json:"agents"`
	// Warnings are what an administrator must act on, each saying what
	// to do (agents still admitted by the shared token of older releases,
	// the shared token still signing people in).
	Warnings []string `json:"warnings,omitempty"`
}

// Problem is the body of every error response.
type Problem struct {
	Error string `json:"error"`
}

// Kinds of failure the API reports, each with its own HTTP status; the hub
// wraps them so callers decide with errors.Is.
var (
	ErrNotFound = errors.New("not found")      // 404
	ErrExists   = errors.New("already exists") // 409
	ErrInvalid  = errors.New("invalid")        // 400
	ErrBusy     = errors.New("busy")           // 409
)

// Copy is one host's copy of a conflicted path, as the engine saw it when
// the path was quarantined.
type Copy struct {
	Host   string    `json:"host"`
	Exists bool      `json:"exists"`
	Kind   string    `json:"kind,omitempty"` // "file" or "dir"
	Size   int64     `json:"size,omitempty"`
	Mtime  time.Time `json:"mtime,omitzero"`
	Mode   string    `json:"mode,omitempty"` // octal permission bits, e.g. "0644"
	Hash   string    `json:"hash,omitempty"` // SHA-256, hex
	// User owns the file on that host, where its agent can tell: a user
	// name, or "uid N" when the host has no name for it.
	User string `json:"user,omitempty"`
}

// Conflict is an entry of a session's File Conflict List: a path left
// alone by synchronisation until an administrator picks the winning host.
type Conflict struct {
	Path   string    `json:"path"`
	Reason string    `json:"reason"` // see conflict.Reason
	Detail string    `json:"detail,omitempty"`
	Copies []Copy    `json:"copies"`
	Since  time.Time `json:"since"`
}

// ResolveRequest picks the winning host of one conflicted path, or of every
// path in the list with All.
type ResolveRequest struct {
	Path   string `json:"path,omitempty"`
	All    bool   `json:"all,omitempty"`
	Winner string `json:"winner"`
}

// ResolveResult says which paths were resolved and which were not, and why.
type ResolveResult struct {
	Resolved []string        `json:"resolved"`
	Failed   []ResolveFailed `json:"failed,omitempty"`
}

// ResolveFailed is a path a resolution could not settle; it stays listed.
type ResolveFailed struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

// Event is an entry of a session's event log: a lock, a transfer, a
// conflict, a resolution and who made it...
type Event struct {
	Seq  uint64    `json:"seq"` // increasing per session
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	Host string    `json:"host,omitempty"`
	Path string    `json:"path,omitempty"`
	Msg  string    `json:"msg,omitempty"`
	User string    `json:"user,omitempty"`
}

// EventQuery selects events of a session's log, newest first.
type EventQuery struct {
	Limit  int    // at most this many; 0 means DefaultEvents, capped at MaxEvents
	Before uint64 // only events with a smaller Seq; 0 means from the newest
	Kind   string // only events of this kind
	Q      string // only events whose path, message, host or user contain this, ignoring case
}

// DefaultEvents and MaxEvents bound one page of events.
const (
	DefaultEvents = 200
	MaxEvents     = 1000
)

// DiffMaxBytes is the most of a copy a diff reads; a larger copy is
// reported too large, with its size and hash only.
const DiffMaxBytes = 256 << 10

// Diff is two hosts' current copies of a path, for comparing them.
type Diff struct {
	Path string   `json:"path"`
	A    DiffSide `json:"a"`
	B    DiffSide `json:"b"`
}

// DiffSide is one host's copy in a Diff. Text is set only for a file of at
// most DiffMaxBytes that is valid UTF-8 without a NUL byte.
type DiffSide struct {
	Host     string `json:"host"`
	Exists   bool   `json:"exists"`
	Size     int64  `json:"size"`
	Hash     string `json:"hash"`
	Text     string `json:"text,omitempty"`
	Binary   bool   `json:"binary"`
	TooLarge bool   `json:"too_large"`
	Error    string `json:"error,omitempty"`
}

// LoginRequest signs the console in.
type LoginRequest struct {
	// User is the account's name; empty means "admin", as before accounts.
	User     string `json:"user,omitempty"`
	Password string `json:"password"`
}

// Me is who a console session is signed in as, and the token its changes
// must carry in the X-CSRF-Token header.
type Me struct {
	User string `json:"user"`
	Role Role   `json:"role"`
	CSRF string `json:"csrf"`
	// Warnings are what an administrator must act on (Status.Warnings).
	Warnings []string `json:"warnings,omitempty"`
}

// Kinds of the live feed's notices (GET /api/v1/live): what changed, so
// the console fetches that resource again.
const (
	NoticeHello     = "hello"
	NoticeSessions  = "sessions"
	NoticeConflicts = "conflicts"
	NoticeLocks     = "locks"
	NoticeEvents    = "events"
	NoticeAgents    = "agents"
)

// Notice is a message of the live feed. Session is empty for the agents
// notice, and for a sessions notice that concerns every session.
type Notice struct {
	Kind    string `json:"kind"`
	Session string `json:"session,omitempty"`
}
