package wire

import (
	"fmt"
	"unicode/utf8"
)

// Messages of a running session (the seed's Steps 2 and 3): an agent tells
// the hub what its users do; the hub tells targets to lock and unlock.
const (
	TypeOpened  Type = "live.opened"
	TypeClosed  Type = "live.closed"
	TypeChanges Type = "live.changes"
	TypeLock    Type = "live.lock"
	TypeUnlock  Type = "live.unlock"
	TypeWarning Type = "live.warning"
)

// Opened reports that a user on the sending host opened Path for writing:
// a request to become the file's only source. The hub answers OK when the
// sender is the source, or Fail (KindBusy) naming the host that already is.
type Opened struct {
	Session string `json:"session"`
	Path    string `json:"path"`
	User    string `json:"user,omitempty"` // who opened it, when the agent can tell
}

func (*Opened) Type() Type { return TypeOpened }
func (m *Opened) Validate() error {
	if err := CheckName("session", m.Session); err != nil {
		return err
	}
	return CheckPath(m.Path)
}

// Closed reports that the last writer on the sending host closed Path.
// Entry is the file as it now is when it was modified, nil when it was not.
type Closed struct {
	Session string `json:"session"`
	Path    string `json:"path"`
	Entry   *Entry `json:"entry,omitempty"`
	// Inline is the new content of a small file (see Inline).
	Inline *Inline `json:"inline,omitempty"`
	// Seq numbers a close that reports a new version in the sequence of
	// the host's Changes (see Changes.Seq): an Apply's Seen then covers it
	// too. 0 from an agent that does not number its closes.
	Seq uint64 `json:"seq,omitempty"`
}

func (*Closed) Type() Type { return TypeClosed }
func (m *Closed) Validate() error {
	if err := CheckName("session", m.Session); err != nil {
		return err
	}
	if err := CheckPath(m.Path); err != nil {
		return err
	}
	if m.Entry != nil {
		if err := m.Entry.Validate(); err != nil {
			return err
		}
		if m.Entry.Path != m.Path || m.Entry.Kind != KindFile {
			return fmt.Errorf("closed %s: entry %s is not that file", m.Path, m.Entry.Path)
		}
	}
	if m.Inline != nil {
		if m.Entry == nil {
			return fmt.Errorf("closed %s: inline content without a version", m.Path)
		}
		if err := m.Inline.check(m.Entry.Size); err != nil {
			return fmt.Errorf("closed %s: %w", m.Path, err)
		}
	}
	return nil
}

// ChangeKind says what happened to a path.
type ChangeKind uint8

const (
	ChangeWrite  ChangeKind = iota + 1 // a file created or modified: Entry is its new state
	ChangeMkdir                        // a folder created: Entry
	ChangeMeta                         // mode or mtime changed only: Entry
	ChangeRemove                       // the path, file or folder, is gone
	ChangeRename                       // OldPath moved to Path: Entry is its new state
)

func (k ChangeKind) String() string {
	switch k {
	case ChangeWrite:
		return "write"
	case ChangeMkdir:
		return "mkdir"
	case ChangeMeta:
		return "meta"
	case ChangeRemove:
		return "remove"
	case ChangeRename:
		return "rename"
	}
	return fmt.Sprintf("change(%d)", k)
}

// Change is one thing a user did to the sending host's copy.
type Change struct {
	Kind    ChangeKind `json:"k"`
	Path    string     `json:"p"`
	OldPath string     `json:"o,omitempty"`
	Entry   Entry      `json:"e,omitzero"`
	// Inline, on a write of a small file, is its content (see Inline).
	Inline *Inline `json:"i,omitempty"`
}

// Changes reports changes in the order they happened.
type Changes struct {
	Session string   `json:"session"`
	Changes []Change `json:"changes"`
	// Seq numbers a host's reports, increasing (0: not numbered), for
	// Apply.Seen.
	Seq uint64 `json:"seq,omitempty"`
}

func (*Changes) Type() Type { return TypeChanges }
func (m *Changes) Validate() error {
	if err := CheckName("session", m.Session); err != nil {
		return err
	}
	if len(m.Changes) == 0 || len(m.Changes) > MaxBatch {
		return fmt.Errorf("changes: %d, want 1 to %d", len(m.Changes), MaxBatch)
	}
	for _, c := range m.Changes {
		if err := CheckPath(c.Path); err != nil {
			return err
		}
		switch c.Kind {
		case ChangeRemove:
		case ChangeRename:
			if err := CheckPath(c.OldPath); err != nil {
				return err
			}
			fallthrough
		case ChangeWrite, ChangeMkdir, ChangeMeta:
			if err := c.Entry.Validate(); err != nil {
				return err
			}
			if c.Entry.Path != c.Path {
				return fmt.Errorf("change %s: entry names %s", c.Path, c.Entry.Path)
			}
		default:
			return fmt.Errorf("change %s: unknown kind %d", c.Path, c.Kind)
		}
		if c.Inline != nil {
			if c.Kind != ChangeWrite || c.Entry.Kind != KindFile {
				return fmt.Errorf("change %s: inline content on a %s", c.Path, c.Kind)
			}
			if err := c.Inline.check(c.Entry.Size); err != nil {
				return fmt.Errorf("change %s: %w", c.Path, err)
			}
		}
	}
	return nil
}

// Inlines returns the inline parts of m's changes, in order, for
// SplitInline.
func (m *Changes) Inlines() []*Inline {
	out := make([]*Inline, len(m.Changes))
	for i := range m.Changes {
		out[i] = m.Changes[i].Inline
	}
	return out
}

// Lock tells a target to lock its copy of Path for Holder's user: the hub
// granted Holder as the file's only source. A target whose copy is open
// for writing there answers Fail with KindBusy.
type Lock struct {
	Session string `json:"session"`
	Path    string `json:"path"`
	Holder  string `json:"holder"`
	User    string `json:"user,omitempty"`
}

func (*Lock) Type() Type { return TypeLock }
func (m *Lock) Validate() error {
	if err := CheckName("session", m.Session); err != nil {
		return err
	}
	if err := CheckName("host", m.Holder); err != nil {
		return err
	}
	return CheckPath(m.Path)
}

// Unlock releases a target's locks on Paths.
type Unlock struct {
	Session string   `json:"session"`
	Paths   []string `json:"paths"`
}

func (*Unlock) Type() Type { return TypeUnlock }
func (m *Unlock) Validate() error {
	if err := CheckName("session", m.Session); err != nil {
		return err
	}
	if len(m.Paths) == 0 || len(m.Paths) > MaxBatch {
		return fmt.Errorf("unlock: %d paths, want 1 to %d", len(m.Paths), MaxBatch)
	}
	for _, p := range m.Paths {
		if err := CheckPath(p); err != nil {
			return err
		}
	}
	return nil
}

// MaxWarningLen bounds a Warning's text, in bytes.
const MaxWarningLen = 1024

// Warning tells the hub something about the sending host's part in a
// session that an administrator must act on, such as a file system watch
// limit reached, which leaves changes to periodic scans. The hub lists it in
// the session's status. An agent sends each warning once per attachment.
type Warning struct {
	Session string `json:"session"`
	Msg     string `json:"msg"`
}

func (*Warning) Type() Type { return TypeWarning }
func (m *Warning) Validate() error {
	if err := CheckName("session", m.Session); err != nil {
		return err
	}
	if m.Msg == "" || len(m.Msg) > MaxWarningLen || !utf8.ValidString(m.Msg) {
		return fmt.Errorf("warning: %d bytes, want 1 to %d of UTF-8 text", len(m.Msg), MaxWarningLen)
	}
	return nil
}
