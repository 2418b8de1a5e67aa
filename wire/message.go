package wire

import (
	"encoding/json"
	"fmt"
)

// ProtocolVersion is the version of the messages below. A peer speaking
// another version is refused at the handshake with a message saying which
// side to upgrade. 2: chunks carry a codec (zstd) instead of a snappy flag.
// 3: a frame's body may travel compressed (Envelope.Z), and a ReadManyData
// may carry its files as one compressed batch (ReadManyData.Codec).
const ProtocolVersion = 3

// HubName is the peer name the hub always has on the broker.
const HubName = "hub"

// Type names a message on the wire.
type Type string

// Message is a typed message body.
type Message interface {
	Type() Type
	// Validate checks a decoded message; every path it carries is checked.
	Validate() error
}

const (
	TypeHello   Type = "hello"
	TypeWelcome Type = "welcome"
	TypeRefused Type = "refused"
	TypePeer    Type = "peer"
	TypeOK      Type = "ok"
	TypeFail    Type = "fail"
	TypeAttach  Type = "attach"
	TypeDetach  Type = "detach"
	// RootCheck asks an agent whether a root would do, before a session
	// that names it is defined.
	TypeRootCheck Type = "root.check"
	TypeSessions  Type = "sessions"
	TypeScan      Type = "scan"
	TypeScanPart  Type = "scan.part"
	TypeApply     Type = "apply"
	TypeApplied   Type = "applied"
	TypeProgress  Type = "progress"
	TypeRead      Type = "read"
	TypeReadData  Type = "read.data"
	// ReadMany and its answer fetch many small files in one round trip.
	TypeReadMany     Type = "read.many"
	TypeReadManyData Type = "read.many.data"
	// Owners and its answer name who owns a few paths' copies on a host.
	TypeOwners     Type = "owners"
	TypeOwnersData Type = "owners.data"
	// Spans and Chunks, and their answers, carry a delta transfer's
	// signatures (wire/delta.go).
	TypeSpans      Type = "sig.spans"
	TypeSpansData  Type = "sig.spans.data"
	TypeChunks     Type = "sig.chunks"
	TypeChunksData Type = "sig.chunks.data"
	// Clock and its answer measure an agent's clock against the hub's.
	TypeClock     Type = "clock"
	TypeClockData Type = "clock.data"
	// JournalClear tells an agent that the hub merged what its change
	// journal said: it may forget it.
	TypeJournalClear Type = "journal.clear"
	// Attached answers an Attach with the identity of the root it found
	// (rootid.go); an older agent answers OK.
	TypeAttached Type = "attached"
)

var registry = map[Type]func() Message{
	TypeHello:        func() Message { return new(Hello) },
	TypeWelcome:      func() Message { return new(Welcome) },
	TypeRefused:      func() Message { return new(Refused) },
	TypePeer:         func() Message { return new(Peer) },
	TypeOK:           func() Message { return new(OK) },
	TypeFail:         func() Message { return new(Fail) },
	TypeAttach:       func() Message { return new(Attach) },
	TypeDetach:       func() Message { return new(Detach) },
	TypeRootCheck:    func() Message { return new(RootCheck) },
	TypeSessions:     func() Message { return new(Sessions) },
	TypeScan:         func() Message { return new(Scan) },
	TypeScanPart:     func() Message { return new(ScanPart) },
	TypeApply:        func() Message { return new(Apply) },
	TypeApplied:      func() Message { return new(Applied) },
	TypeProgress:     func() Message { return new(Progress) },
	TypeRead:         func() Message { return new(Read) },
	TypeReadData:     func() Message { return new(ReadData) },
	TypeReadMany:     func() Message { return new(ReadMany) },
	TypeReadManyData: func() Message { return new(ReadManyData) },
	TypeOpened:       func() Message { return new(Opened) },
	TypeClosed:       func() Message { return new(Closed) },
	TypeChanges:      func() Message { return new(Changes) },
	TypeLock:         func() Message { return new(Lock) },
	TypeUnlock:       func() Message { return new(Unlock) },
	TypeOwners:       func() Message { return new(Owners) },
	TypeOwnersData:   func() Message { return new(OwnersData) },
	TypeWarning:      func() Message { return new(Warning) },
	TypeSpans:        func() Message { return new(Spans) },
	TypeSpansData:    func() Message { return new(SpansData) },
	TypeChunks:       func() Message { return new(Chunks) },
	TypeChunksData:   func() Message { return new(ChunksData) },
	TypeClock:        func() Message { return new(Clock) },
	TypeClockData:    func() Message { return new(ClockData) },
	TypeJournalClear: func() Message { return new(JournalClear) },
	TypeAttached:     func() Message { return new(Attached) },
	TypeCredentials:  func() Message { return new(Credentials) },
}

// Marshal encodes m as a frame addressed to `to`. id marks a request; reply
// names the request this frame answers.
func Marshal(to string, id, reply uint64, m Message, data []byte) ([]byte, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.Type(), err)
	}
	env := Envelope{Type: m.Type(), To: to, ID: id, Reply: reply, Body: body}
	if z := compressBody(m.Type(), body, data); z != nil {
		env.Body, env.Z = nil, len(z)
		data = append(z, data...)
	}
	if b, ok := fastEncode(env, data); ok {
		return b, nil
	}
	return EncodeFrame(env, data)
}

// Decode turns a frame's body into its typed message, strictly: unknown
// fields, trailing data or a message that fails validation are errors that
// wrap ErrFrame and name the message type. A missing body decodes as {}; a
// compressed one (Z) is inflated from the head of the data first.
func Decode(f Frame) (Message, error) {
	newMsg, ok := registry[f.Type]
	if !ok {
		return nil, fmt.Errorf("%w: unknown message type %q", ErrFrame, f.Type)
	}
	f, err := f.open()
	if err != nil {
		return nil, err
	}
	m := newMsg()
	body := []byte(f.Body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	if err := strictJSON(body, m); err != nil {
		return nil, fmt.Errorf("%w: decode %s: %w", ErrFrame, f.Type, err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("%w: decode %s: %w", ErrFrame, f.Type, err)
	}
	return m, nil
}

// Role says what a peer is.
type Role string

const (
	RoleHub   Role = "hub"
	RoleAgent Role = "agent"
)

// ServedByHeader names, on every HTTP response, which of peerlink's
// servers answered: ServedByHub (the console and REST API) or
// ServedByBroker. A client given the other one's port says so instead of
// "404 Not Found".
const (
	ServedByHeader = "X-Peerlink-Server"
	ServedByHub    = "hub"
	ServedByBroker = "broker"
)

// ServerTimeHeader carries, on every HTTP response of the hub and the
// broker, the server's clock as it answered (RFC 3339 with nanoseconds), so
// that a client can tell how far its own clock is from the server's (HTTP's
// Date has whole seconds only).
const ServerTimeHeader = "X-Peerlink-Time"

// MaxNameLen bounds a host or session name.
const MaxNameLen = 64

// CheckName reports whether s can name a host or a session: 1 to 64 of
// letters, digits, '-', '_' and '.', not starting with '.' or '-'.
func CheckName(what, s string) error {
	if s == "" || len(s) > MaxNameLen {
		return fmt.Errorf("%s name %q: must be 1 to %d characters", what, s, MaxNameLen)
	}
	for i, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' ||
			(i > 0 && (c == '-' || c == '.'))
		if !ok {
			return fmt.Errorf("%s name %q: use letters, digits, '-', '_' and '.', starting with a letter, digit or '_'", what, s)
		}
	}
	return nil
}

// Hello opens every connection to the broker.
type Hello struct {
	Role     Role   `json:"role"`
	Name     string `json:"name"`
	Protocol int    `json:"protocol"`
	Version  string `json:"version"` // the peer's software version, for display
	Token    string `json:"token"`
}

func (*Hello) Type() Type { return TypeHello }
func (m *Hello) Validate() error {
	switch m.Role {
	case RoleHub:
		if m.Name != HubName {
			return fmt.Errorf("the hub must be named %q, not %q", HubName, m.Name)
		}
	case RoleAgent:
		if m.Name == HubName {
			return fmt.Errorf("an agent cannot be named %q", HubName)
		}
	default:
		return fmt.Errorf("unknown role %q", m.Role)
	}
	return CheckName("host", m.Name)
}

// Welcome accepts a Hello.
type Welcome struct {
	Protocol int    `json:"protocol"`
	Version  string `json:"version"`
}

func (*Welcome) Type() Type        { return TypeWelcome }
func (m *Welcome) Validate() error { return nil }

// Refused rejects a Hello; the broker closes the connection after it.
type Refused struct {
	Error Error `json:"error"`
}

func (*Refused) Type() Type        { return TypeRefused }
func (m *Refused) Validate() error { return nil }

// Peer tells the hub that an agent came or went. On connecting, the hub is
// sent one Peer for every agent already connected.
type Peer struct {
	Name    string `json:"name"`
	Up      bool   `json:"up"`
	Version string `json:"version,omitempty"`
	Addr    string `json:"addr,omitempty"`
	Since   int64  `json:"since"` // Unix nanoseconds of the change
}

func (*Peer) Type() Type        { return TypePeer }
func (m *Peer) Validate() error { return CheckName("host", m.Name) }

// OK is the empty successful reply.
type OK struct{}

func (*OK) Type() Type        { return TypeOK }
func (m *OK) Validate() error { return nil }

// Fail is the reply to a request that failed, or that the broker could not
// deliver (KindUnreachable).
type Fail struct {
	Error Error `json:"error"`
}

func (*Fail) Type() Type        { return TypeFail }
func (m *Fail) Validate() error { return nil }

// Attach tells an agent that it takes part in a session with the given root;
// it checks the root and answers OK or Fail.
type Attach struct {
	Session string   `json:"session"`
	Root    string   `json:"root"` // absolute, in the agent's own file system
	Exclude []string `json:"exclude,omitempty"`
	// Hosts are the session's participants: the only peers whose reads of
	// this root the agent answers.
	Hosts []string `json:"hosts"`
	// ProtectDays > 0 turns target protection on: before the agent
	// overwrites or deletes a copy it keeps it, for that many days, in the
	// root's protected area.
	ProtectDays int `json:"protect_days,omitempty"`
	// LockGraceMs is the session's lock grace period in milliseconds: an
	// agent cut off from the hub keeps the copies it locked for the
	// session's writers that long, then releases them. Nil (an older hub):
	// the agent's default.
	LockGraceMs *int64 `json:"lock_grace_ms,omitempty"`
	// RootID is the id the hub recorded for this host's root (rootid.go),
	// empty where it has none: the agent then marks a root without a
	// marker with a new id. Where set, the agent writes it only into a
	// root that holds nothing the session takes, or into the very folder
	// recorded (RootFS and RootInode, its file system and inode: the
	// marker was deleted there, the root was not replaced).
	RootID    string `json:"root_id,omitempty"`
	RootFS    uint64 `json:"root_fs,omitempty"`
	RootInode uint64 `json:"root_inode,omitempty"`
}

func (*Attach) Type() Type { return TypeAttach }
func (m *Attach) Validate() error {
	if err := CheckName("session", m.Session); err != nil {
		return err
	}
	if m.Root == "" {
		return fmt.Errorf("session %s: empty root", m.Session)
	}
	if err := CheckRoot(m.Root); err != nil {
		return fmt.Errorf("session %s: %w", m.Session, err)
	}
	if m.ProtectDays < 0 || m.ProtectDays > MaxProtectDays {
		return fmt.Errorf("session %s: protect_days %d: give a number of days from 1 to %d", m.Session, m.ProtectDays, MaxProtectDays)
	}
	if m.LockGraceMs != nil && *m.LockGraceMs < 0 {
		return fmt.Errorf("session %s: lock_grace_ms %d: negative", m.Session, *m.LockGraceMs)
	}
	if len(m.Exclude) > MaxExclude {
		return fmt.Errorf("session %s: %d exclude patterns: at most %d", m.Session, len(m.Exclude), MaxExclude)
	}
	for _, p := range m.Exclude {
		if err := CheckPattern(p); err != nil {
			return fmt.Errorf("session %s: %w", m.Session, err)
		}
	}
	for _, h := range m.Hosts {
		if err := CheckName("host", h); err != nil {
			return fmt.Errorf("session %s: %w", m.Session, err)
		}
	}
	if err := CheckRootID(m.RootID); err != nil {
		return fmt.Errorf("session %s: %w", m.Session, err)
	}
	return nil
}

// Detach ends an agent's part in a session.
type Detach struct {
	Session string `json:"session"`
}

func (*Detach) Type() Type        { return TypeDetach }
func (m *Detach) Validate() error { return CheckName("session", m.Session) }

// RootCheck asks an agent whether Root would do as a session's root on its
// host: an existing folder it can read and write, outside its own data.
// The answer is OK or a Fail that says what is wrong.
type RootCheck struct {
	Root string `json:"root"`
}

func (*RootCheck) Type() Type        { return TypeRootCheck }
func (m *RootCheck) Validate() error { return CheckRoot(m.Root) }

// Sessions tells an agent, each time it connects, which of the sessions it
// is a host of run on the hub. A lock the agent journaled for a session not
// named here, and not attached, outlived its session (stopped or deleted,
// or the host taken out of it, while the agent was away): the agent undoes
// it. A lock of a running session stays until the session's next
// attachment of the host or its release settles it, as the lock grace
// period wants.
type Sessions struct {
	Running []string `json:"running"`
}

func (*Sessions) Type() Type { return TypeSessions }
func (m *Sessions) Validate() error {
	if len(m.Running) > MaxBatch {
		return fmt.Errorf("sessions: %d running, more than %d", len(m.Running), MaxBatch)
	}
	for _, s := range m.Running {
		if err := CheckName("session", s); err != nil {
			return err
		}
	}
	return nil
}

// Scan asks an attached agent to scan its root. It answers with ScanParts,
// the last one Done, or a Fail.
type Scan struct {
	Session string `json:"session"`
	// Path, when set, limits the scan to that path and what is below it:
	// the hub's look at the copies of one conflicted path.
	Path string `json:"path,omitempty"`
	// Changed asks for a catch-up's scan: where the agent's change journal
	// names what changed since the hub last merged it, only those paths
	// and Paths (with what is below each) are scanned, and the parts name
	// them in Roots; otherwise the whole root is. Either way the last
	// part's Journal is the journal's number to clear up to.
	Changed bool     `json:"changed,omitempty"`
	Paths   []string `json:"paths,omitempty"`
	// Supersede, on a whole scan, says the hub drops the host's live
	// reports that the scan covers, those numbered up to its last part's
	// Reported: the agent then forgets the removals it reported before
	// the scan, which no longer hold back a fetch of the hub's.
	Supersede bool `json:"supersede,omitempty"`
}

func (*Scan) Type() Type { return TypeScan }
func (m *Scan) Validate() error {
	if err := CheckName("session", m.Session); err != nil {
		return err
	}
	if len(m.Paths) > MaxBatch {
		return fmt.Errorf("%d paths exceed the batch limit %d", len(m.Paths), MaxBatch)
	}
	for _, p := range m.Paths {
		if err := CheckPath(p); err != nil {
			return err
		}
	}
	if m.Path != "" {
		return CheckPath(m.Path)
	}
	return nil
}

// JournalClear tells an agent that the hub merged its session's scan made
// at journal number Seq (ScanPart.Journal), and took the host live: what
// the journal recorded up to it is forgotten. The answer is OK.
type JournalClear struct {
	Session string `json:"session"`
	Seq     uint64 `json:"seq"`
}

func (*JournalClear) Type() Type        { return TypeJournalClear }
func (m *JournalClear) Validate() error { return CheckName("session", m.Session) }

// ScanStats counts what a scan saw.
type ScanStats struct {
	Files   int64 `json:"files"`
	Dirs    int64 `json:"dirs"`
	Bytes   int64 `json:"bytes"`
	Hashed  int64 `json:"hashed"`  // files whose content was read this time
	Skipped int64 `json:"skipped"` // symlinks, devices, unreadable entries
}

// MaxBatch bounds the entries or operations in one message.
const MaxBatch = 4096

// ScanPart is one batch of a scan's entries.
type ScanPart struct {
	Session  string    `json:"session"`
	Entries  []Entry   `json:"entries,omitempty"`
	Done     bool      `json:"done,omitempty"`
	Stats    ScanStats `json:"stats"`
	Warnings []Error   `json:"warnings,omitempty"` // entries skipped and why
	// Open are files of Entries that a process on the host had open for
	// writing when they were scanned, as far as the agent can tell: the
	// hub must not replace or remove them (seed, "a file is open at the
	// start of a job"), so the engine quarantines them where it would.
	Open []string `json:"open,omitempty"`
	// A catch-up's scan (Scan.Changed): Roots are paths it covered (each
	// with what is below it); Partial, on the last part, says that the
	// scan covered those only, and Journal is the change journal's
	// number it was read at.
	Roots   []string `json:"roots,omitempty"`
	Partial bool     `json:"partial,omitempty"`
	Journal uint64   `json:"journal,omitempty"`
	// Reported, on the last part of a whole scan, is the Seq of the last
	// Changes the host sent before the scan began, after it sent what its
	// live loop had handled by then: what those reported, the scan saw
	// (0: unknown).
	Reported uint64 `json:"reported,omitempty"`
}

func (*ScanPart) Type() Type { return TypeScanPart }
func (m *ScanPart) Validate() error {
	if err := CheckName("session", m.Session); err != nil {
		return err
	}
	if len(m.Entries) > MaxBatch {
		return fmt.Errorf("%d entries exceed the batch limit %d", len(m.Entries), MaxBatch)
	}
	if len(m.Roots) > MaxBatch {
		return fmt.Errorf("%d roots exceed the batch limit %d", len(m.Roots), MaxBatch)
	}
	for _, p := range m.Roots {
		if err := CheckPath(p); err != nil {
			return err
		}
	}
	for i := range m.Entries {
		if err := m.Entries[i].Validate(); err != nil {
			return err
		}
	}
	if len(m.Open) > MaxBatch {
		return fmt.Errorf("%d open files exceed the batch limit %d", len(m.Open), MaxBatch)
	}
	for _, p := range m.Open {
		if err := CheckPath(p); err != nil {
			return err
		}
	}
	return nil
}
