package wire

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
)

// ErrKind is the small, stable classification of an error that crossed the
// wire; the hub decides by kind (retry transient, quarantine busy...).
// Kinds are only ever appended, never renumbered: old agents keep working.
type ErrKind uint8

const (
	KindOther       ErrKind = 0
	KindPermission  ErrKind = 1
	KindNotFound    ErrKind = 2
	KindBusy        ErrKind = 3
	KindInvalid     ErrKind = 4
	KindTransient   ErrKind = 5
	KindExists      ErrKind = 6
	KindNoSpace     ErrKind = 7
	KindChanged     ErrKind = 8 // the source changed while it was being read
	KindUnreachable ErrKind = 9 // the destination peer is not connected
	KindConflict    ErrKind = 10
	// KindOpen: the op would replace or remove a file that a process on
	// the target has open for writing; its writer's later writes would go
	// to a file no longer in the tree, so the target refuses, and the hub
	// quarantines the path rather than try again until it is overwritten.
	KindOpen ErrKind = 11
)

var kindNames = [...]string{"error", "permission denied", "not found", "busy", "invalid", "transient", "already exists", "no space left", "changed while being read", "unreachable", "conflict", "open for writing"}

func (k ErrKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Error is an error that keeps its shape across hosts: which operation on
// which host and path failed, and of what kind.
type Error struct {
	Kind ErrKind `json:"kind"`
	Op   string  `json:"op,omitempty"`
	Host string  `json:"host,omitempty"`
	Path string  `json:"path,omitempty"`
	Msg  string  `json:"msg,omitempty"`
}

func (e *Error) Error() string {
	s := ""
	if e.Host != "" {
		s = e.Host + ": "
	}
	if e.Op != "" {
		s += e.Op
		if e.Path != "" {
			s += " " + e.Path
		}
		s += ": "
	} else if e.Path != "" {
		s += e.Path + ": "
	}
	if e.Msg != "" {
		return s + e.Msg
	}
	return s + e.Kind.String()
}

// Is lets errors.Is(err, &wire.Error{Kind: k}) match on kind alone.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Kind == e.Kind && t.Op == "" && t.Host == "" && t.Path == "" && t.Msg == ""
}

// ToError converts any error into a wire.Error for op on host and path,
// classifying well-known causes. A *wire.Error passes through, keeping the
// host it already names.
func ToError(op, host, path string, err error) *Error {
	if err == nil {
		return nil
	}
	var we *Error
	if errors.As(err, &we) {
		c := *we
		if c.Host == "" {
			c.Host = host
		}
		if c.Op == "" {
			c.Op = op
		}
		if c.Path == "" {
			c.Path = path
		}
		return &c
	}
	e := &Error{Kind: KindOther, Op: op, Host: host, Path: path, Msg: err.Error()}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		e.Msg = pe.Err.Error()
	}
	switch {
	case errors.Is(err, fs.ErrPermission):
		e.Kind = KindPermission
	case errors.Is(err, fs.ErrNotExist):
		e.Kind = KindNotFound
	case errors.Is(err, fs.ErrExist):
		e.Kind = KindExists
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		e.Kind = KindNoSpace
	case errors.Is(err, syscall.EBUSY), errors.Is(err, syscall.ETXTBSY), errors.Is(err, syscall.EAGAIN):
		e.Kind = KindBusy
	}
	return e
}
