//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/peerlink/peerlink/sync/tree"
)

// What the live scenarios watch for on the targets, and how they see it
// happen without adding lag of their own: inotify on the targets' folders
// wakes the bench the moment a copy's mode changes (IN_ATTRIB) or a new
// version is renamed in (IN_MOVED_TO), and the condition is checked then.
// Setting the immutable flag (FS_IOC_SETFLAGS) sends no inotify event, so
// while a condition does not hold it is also checked every probeRecheck:
// the flag, the last step of a lock, is seen at most that late.
//
// The checks do not open the copies: statx gives the mode and the
// immutable attribute (STATX_ATTR_IMMUTABLE is what FS_IOC_GETFLAGS calls
// FS_IMMUTABLE_FL; checkStatxFlags verifies they agree on this file
// system). A copy is read only once its size, inode and times say a new
// version may be there. Opens would be seen by every agent's fanotify mark
// and cost them work the measurement would then include.

const probeRecheck = time.Millisecond

// dirWatch is an inotify instance on the targets' folders.
type dirWatch struct {
	fd  int
	buf []byte
}

func watchDirs(dirs ...string) (*dirWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("inotify_init1: %w", err)
	}
	for _, d := range dirs {
		if _, err := unix.InotifyAddWatch(fd, d, unix.IN_ATTRIB|unix.IN_MOVED_TO|unix.IN_CLOSE_WRITE|unix.IN_CREATE|unix.IN_DELETE); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("inotify_add_watch %s: %w", d, err)
		}
	}
	return &dirWatch{fd: fd, buf: make([]byte, 64<<10)}, nil
}

func (w *dirWatch) Close() error { return unix.Close(w.fd) }

// until checks cond at once, after every batch of events and every
// probeRecheck, and returns the time it first held; false if it did not
// by deadline.
func (w *dirWatch) until(deadline time.Time, cond func() bool) (time.Time, bool) {
	ts := unix.NsecToTimespec(probeRecheck.Nanoseconds())
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
	for {
		if cond() {
			return time.Now(), true
		}
		if time.Now().After(deadline) {
			return time.Time{}, false
		}
		n, err := unix.Ppoll(fds, &ts, nil)
		if err != nil && err != unix.EINTR {
			time.Sleep(probeRecheck) // cannot happen with a valid fd; do not spin
			continue
		}
		if n > 0 {
			for { // drain: the events only say "look now"
				if _, err := unix.Read(w.fd, w.buf); err != nil {
					break
				}
			}
		}
	}
}

// copyState is what statx says of a target's copy.
type copyState struct {
	exists    bool
	mode      fs.FileMode // permission bits
	immutable bool
	size      int64
	sig       [3]int64 // inode, mtime, ctime: a new version moves them
}

func statCopy(p string) copyState {
	var st unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS, &st); err != nil {
		return copyState{}
	}
	return copyState{
		exists:    true,
		mode:      fs.FileMode(st.Mode) & fs.ModePerm,
		immutable: st.Attributes&unix.STATX_ATTR_IMMUTABLE != 0,
		size:      int64(st.Size),
		sig: [3]int64{int64(st.Ino), st.Mtime.Sec*1e9 + int64(st.Mtime.Nsec),
			st.Ctime.Sec*1e9 + int64(st.Ctime.Nsec)},
	}
}

// locked is a target lock as the agent leaves it: no write bit, and the
// immutable flag when the agent can set it.
func (s copyState) locked(imm bool) bool {
	return s.exists && s.mode&0o222 == 0 && (!imm || s.immutable)
}

// released is a copy back to mode and without the flag.
func (s copyState) released(mode fs.FileMode) bool {
	return s.exists && s.mode == mode && !s.immutable
}

// contentProbe tells when a copy holds want, reading it only when statx
// shows a version it has not read yet of the right size.
type contentProbe struct {
	path string
	want []byte
	seen [3]int64
	done bool
}

func (p *contentProbe) holds() bool {
	if p.done {
		return true
	}
	s := statCopy(p.path)
	if !s.exists || s.size != int64(len(p.want)) || s.sig == p.seen {
		return false
	}
	p.seen = s.sig
	b, err := os.ReadFile(p.path)
	p.done = err == nil && bytes.Equal(b, p.want)
	return p.done
}

// checkStatxFlags says whether statx's immutable attribute reports what
// FS_IOC_GETFLAGS does on the file system of dir, and whether the flag can
// be set there by this process (root, and a file system with inode flags):
// if it cannot, neither can the agents, and a lock is the write bits alone.
func checkStatxFlags(dir string) (imm bool, why string, err error) {
	if os.Geteuid() != 0 {
		return false, "the agents do not run as root: a lock is the removed write bits alone", nil
	}
	probe := dir + "/immutable-probe"
	if err := os.WriteFile(probe, nil, 0o644); err != nil {
		return false, "", err
	}
	defer os.Remove(probe)
	f, err := os.Open(probe)
	if err != nil {
		return false, "", err
	}
	defer f.Close()
	fl, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err != nil {
		return false, fmt.Sprintf("the file system has no inode flags (FS_IOC_GETFLAGS: %v): a lock is the removed write bits alone", err), nil
	}
	if err := unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(fl|tree.FlagImmutable)); err != nil {
		return false, fmt.Sprintf("the file system refuses the immutable flag (FS_IOC_SETFLAGS: %v): a lock is the removed write bits alone", err), nil
	}
	set := statCopy(probe).immutable
	now, gerr := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
	if err := unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(fl)); err != nil {
		return false, "", fmt.Errorf("clear the immutable flag of %s: %w", probe, err)
	}
	if gerr != nil || now&tree.FlagImmutable == 0 || !set || statCopy(probe).immutable {
		return false, "", errors.New("statx's immutable attribute does not follow FS_IOC_GETFLAGS on this file system: the lock probe cannot be trusted")
	}
	return true, "", nil
}
