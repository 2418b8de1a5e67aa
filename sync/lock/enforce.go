package lock

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"

	"github.com/peerlink/peerlink/store"
)

// open opens path for reading through the root, never through a symlink.
// A write lease held by someone else (Samba's kernel oplocks) makes the
// open fail with EAGAIN while the lease is broken; it is retried for up
// to a tenth of a second.
func (l *Locker) open(path string) (*os.File, error) {
	for try := 0; ; try++ {
		f, err := l.t.OpenRead(path)
		if err == nil || !errors.Is(err, syscall.EAGAIN) || try == 10 {
			return f, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// enforce brings the file open as f, now as id, to the locked state of
// rec, updating id. A refusal of the immutable flag is remembered for the
// device and the lock goes on without it.
func (l *Locker) enforce(f *os.File, id *ident, rec store.LockRecord) error {
	imm := id.flagsOK && l.canImmutable(id.dev)
	mode, flags := lockedState(rec.Mode, rec.Flags, imm)
	err := l.apply(f, id, mode, flags)
	var pe *fs.PathError
	if err != nil && imm && errors.As(err, &pe) && pe.Op == "setflags" && flagRefused(err) {
		l.refuseImmutable(id.dev, rec.Path, err)
		mode, flags = lockedState(rec.Mode, rec.Flags, false)
		err = l.apply(f, id, mode, flags)
	}
	return err
}

// restore brings the file open as f, now as id, back to what rec
// journaled.
func (l *Locker) restore(f *os.File, id *ident, rec store.LockRecord) error {
	return l.apply(f, id, rec.Mode, rec.Flags)
}

// apply gives the file open as f, now as id, mode and then flags
// (flagsUnknown: leave the flags alone), updating id as it goes. A mode
// cannot be changed while the immutable or append-only flag is set, so
// those are cleared first where needed; flags then ends up set as asked.
func (l *Locker) apply(f *os.File, id *ident, mode, flags uint32) error {
	if id.mode != mode {
		if id.flagsOK && id.flags&(flagImmutable|flagAppend) != 0 {
			cleared := id.flags &^ (flagImmutable | flagAppend)
			if err := setFlags(f, cleared); err != nil {
				return err
			}
			id.flags = cleared
			l.step("unflagged")
		}
		if err := fchmod(f, mode); err != nil {
			return err
		}
		id.mode = mode
		l.step("chmod")
	}
	if flags != flagsUnknown && id.flagsOK && id.flags != flags {
		if err := setFlags(f, flags); err != nil {
			return err
		}
		id.flags = flags
		l.step("flags")
	}
	return nil
}

func (l *Locker) canImmutable(dev uint64) bool {
	if l.opts.NoImmutable {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ok, known := l.immutable[dev]
	return ok || !known
}

func (l *Locker) refuseImmutable(dev uint64, path string, err error) {
	l.mu.Lock()
	_, known := l.immutable[dev]
	l.immutable[dev] = false
	l.mu.Unlock()
	if !known {
		l.warn(path, fmt.Errorf("the immutable flag cannot be set on this file system (device %d) by this agent (uid %d): locks there only remove the write bits, which neither stop the owner nor a rename over the file: %w", dev, os.Geteuid(), err))
	}
}
