package api

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/wire"
)

// Bounds of a session's definition. Every count and duration has one, so
// that no value can overflow what it is turned into (a retention into a
// time.Duration) or make every path's filtering slow.
const (
	// MaxHosts bounds a session's participants; a hub serves tens of
	// agents.
	MaxHosts = 100
	// MaxExclude and MaxPatternLen bound a session's exclude patterns.
	MaxExclude    = wire.MaxExclude
	MaxPatternLen = wire.MaxPatternLen
	// MaxRootLen bounds a root's path, in bytes.
	MaxRootLen = wire.MaxRootLen
	// MaxProtectDays bounds SessionConfig.ProtectDays.
	MaxProtectDays = wire.MaxProtectDays
	// MaxLockGrace bounds SessionConfig.LockGrace: a week covers a
	// weekend's outage of a site, and more only keeps files locked for a
	// writer who is not coming back.
	MaxLockGrace = 7 * 24 * time.Hour
	// MaxDeltaMin bounds SessionConfig.DeltaMin: a TiB; a larger file is
	// no reason to send it whole.
	MaxDeltaMin = 1 << 40
)

// FieldError is a session definition refused for one of its fields.
type FieldError struct {
	// Field is the field's name in the API's JSON: "protect_days",
	// "hosts[1].root", "exclude[3]".
	Field string
	// Flag is the command line's flag for it, "--protect-days"; empty
	// where there is none.
	Flag string
	// Msg says what is wrong and what is allowed.
	Msg string
}

func (e *FieldError) Error() string {
	if e.Flag == "" {
		return e.Field + ": " + e.Msg
	}
	return e.Field + " (" + e.Flag + "): " + e.Msg
}

// Unwrap makes a FieldError an ErrInvalid, answered with 400.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func fieldErr(field, flag, format string, args ...any) error {
	return &FieldError{Field: field, Flag: flag, Msg: fmt.Sprintf(format, args...)}
}

// Check reports whether c is a session definition within every bound, as a
// *FieldError naming the first field that is not. It judges c alone: the
// hub also checks it against the agents it knows, its own data folder and
// the other sessions. Zero values stand for the defaults and pass.
func (c *SessionConfig) Check() error {
	if err := wire.CheckName("session", c.Name); err != nil {
		return fieldErr("name", "", "%v", err)
	}
	if err := c.checkHosts(); err != nil {
		return err
	}
	if len(c.Exclude) > MaxExclude {
		return fieldErr("exclude", "--exclude", "%d patterns: give at most %d", len(c.Exclude), MaxExclude)
	}
	for i, p := range c.Exclude {
		if err := wire.CheckPattern(p); err != nil {
			return fieldErr("exclude["+strconv.Itoa(i)+"]", "--exclude", "%v", err)
		}
	}
	switch c.Options.Resolver {
	case "", conflict.LastModified, conflict.Manual:
	default:
		return fieldErr("options.resolver", "--resolver", "%q: use %s or %s", c.Options.Resolver, conflict.LastModified, conflict.Manual)
	}
	if m := c.Options.DeleteMaster; m != "" && !c.hasHost(m) {
		return fieldErr("options.delete_master", "--delete-master", "%s is not a host of session %s", m, c.Name)
	}
	if c.ProtectDays < 0 || c.ProtectDays > MaxProtectDays {
		return fieldErr("protect_days", "--protect-days", "%d: give a number of days from 1 to %d (0 means the default, %d)", c.ProtectDays, MaxProtectDays, DefaultProtectDays)
	}
	if g := c.LockGrace; g != nil && (*g < 0 || time.Duration(*g) > MaxLockGrace) {
		return fieldErr("lock_grace", "--lock-grace", "%s: give a duration from 0s to %s, e.g. 5m", g, Duration(MaxLockGrace))
	}
	if c.DeltaMin < 0 || c.DeltaMin > MaxDeltaMin {
		return fieldErr("delta_min", "--delta-min", "%d bytes: give a size from 1 byte to 1TiB, e.g. 1MiB (0 means the default, 1MiB)", c.DeltaMin)
	}
	if c.DeleteGuardPercent < 0 || c.DeleteGuardPercent > 100 {
		return fieldErr("delete_guard_percent", "--delete-guard-percent", "%d: give a percentage from 1 to 100 (100 turns the guard off; 0 means the default, %d)", c.DeleteGuardPercent, DefaultDeleteGuardPercent)
	}
	if c.DeleteGuardMin < 0 || c.DeleteGuardMin > MaxDeleteGuardMin {
		return fieldErr("delete_guard_min", "--delete-guard-min", "%d: give a number of files from 1 to %d (0 means the default, %d)", c.DeleteGuardMin, MaxDeleteGuardMin, DefaultDeleteGuardMin)
	}
	return nil
}

func (c *SessionConfig) checkHosts() error {
	if len(c.Hosts) < 2 || len(c.Hosts) > MaxHosts {
		return fieldErr("hosts", "--host", "%d hosts: name 2 to %d, each as HOST=ROOT", len(c.Hosts), MaxHosts)
	}
	for i, hr := range c.Hosts {
		field := "hosts[" + strconv.Itoa(i) + "]"
		if err := wire.CheckName("host", hr.Host); err != nil {
			return fieldErr(field+".host", "--host", "%v", err)
		}
		for _, o := range c.Hosts[:i] {
			if o.Host == hr.Host {
				return fieldErr(field+".host", "--host", "host %s is named twice", hr.Host)
			}
		}
		if err := wire.CheckRoot(hr.Root); err != nil {
			return fieldErr(field+".root", "--host", "%s: %v", hr.Host, err)
		}
		if !absolute(hr.Root) {
			return fieldErr(field+".root", "--host", "%s: root %q is not an absolute path: give the folder's full path, /srv/share or C:\\share", hr.Host, hr.Root)
		}
	}
	return nil
}

// absolute reports whether root is absolute on a Unix host (/srv) or a
// Windows one (C:\srv): the hub cannot tell which the host is.
func absolute(root string) bool {
	return strings.HasPrefix(root, "/") || len(root) > 2 && root[1] == ':' && (root[2] == '\\' || root[2] == '/')
}

func (c *SessionConfig) hasHost(name string) bool {
	for _, hr := range c.Hosts {
		if hr.Host == name {
			return true
		}
	}
	return false
}
