//go:build linux && !watch_fsnotify

package watch

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// fanRetry: when the opener's descriptor is not (yet) in /proc — the event
// is queued before open(2) installs it, and a busy machine may hold the
// opener between the two — the lookup is tried again after these delays,
// unless the opener is gone.
var fanRetry = []time.Duration{200 * time.Microsecond, time.Millisecond, 4 * time.Millisecond, 16 * time.Millisecond, 64 * time.Millisecond,
	256 * time.Millisecond, 512 * time.Millisecond}

// fanGrace: how long a modification waits for fanotify's WriteOpen of the
// same file before it stands for the open itself (a writer quicker than
// the lookup); a bit more than the retries take, which on a loaded machine
// (timers firing late, the opener descheduled between the event and its
// descriptor's install) is far more than their sum.
var fanGrace = time.Second

// fanOpen is a write-open found by the fanotify goroutine, or (overflow) the
// news that fanotify lost events.
type fanOpen struct {
	rel      string
	pid      int
	user     string
	closes   uint64 // Watcher.closes when the lookup began
	dev, ino uint64 // the file opened
	overflow bool
}

// openFanotify returns a fanotify descriptor that reports every open of a
// file on the file system holding path, with the opener's pid and a
// descriptor of the opened file.
func openFanotify(path string) (*os.File, error) {
	fd, err := fanotifyInit()
	if err != nil {
		return nil, fmt.Errorf("fanotify_init: %w", err)
	}
	if err := unix.FanotifyMark(fd, unix.FAN_MARK_ADD|unix.FAN_MARK_FILESYSTEM, unix.FAN_OPEN, unix.AT_FDCWD, path); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("fanotify_mark FAN_MARK_FILESYSTEM %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), "fanotify"), nil
}

// fanotifyInit makes the fanotify group; a variable, so that a test can
// give it a tiny queue.
var fanotifyInit = func() (int, error) {
	return unix.FanotifyInit(unix.FAN_CLASS_NOTIF|unix.FAN_CLOEXEC|unix.FAN_NONBLOCK, unix.O_RDONLY|unix.O_LARGEFILE|unix.O_CLOEXEC)
}

const fanMetaLen = 24 // sizeof(struct fanotify_event_metadata)

// readFanotify reads open events, keeps those of regular files below the
// root opened by another process than IgnorePid, and finds out whether the
// opener can write.
func (w *Watcher) readFanotify() {
	defer w.workers.Done()
	prefix := w.real + "/"
	if w.real == "/" {
		prefix = "/"
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := w.fan.Read(buf)
		if err != nil {
			if w.stopped() || errors.Is(err, os.ErrClosed) {
				return
			}
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
				continue
			}
			w.stop(fmt.Errorf("watch %s: reading fanotify: %w", w.root, err))
			return
		}
		for b := buf[:n]; len(b) >= fanMetaLen; {
			evLen := int(binary.NativeEndian.Uint32(b[0:]))
			vers := b[4]
			mask := binary.NativeEndian.Uint64(b[8:])
			fd := int(int32(binary.NativeEndian.Uint32(b[16:])))
			pid := int(int32(binary.NativeEndian.Uint32(b[20:])))
			if vers != unix.FANOTIFY_METADATA_VERSION || evLen < fanMetaLen || evLen > len(b) {
				w.stop(fmt.Errorf("watch %s: fanotify event of an unknown version %d", w.root, vers))
				return
			}
			b = b[evLen:]
			if mask&unix.FAN_Q_OVERFLOW != 0 {
				w.sendFan(fanOpen{overflow: true})
			}
			if fd >= 0 {
				w.fanEvent(fd, pid, prefix)
			}
		}
	}
}

// fanEvent handles one open: fd is the kernel's descriptor of the opened
// file, which it closes.
func (w *Watcher) fanEvent(fd, pid int, prefix string) {
	defer unix.Close(fd)
	if pid <= 0 || pid == w.opts.IgnorePid {
		return
	}
	p, err := os.Readlink(procFd(fd))
	if err != nil || !strings.HasPrefix(p, prefix) {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink == 0 {
		return // not a file, or already removed (its link reads "... (deleted)")
	}
	rel := p[len(prefix):]
	if !validPath(rel) {
		return
	}
	w.resolveOpen(fanOpen{rel: rel, pid: pid}, st.Dev, st.Ino, 0)
}

// resolveOpen looks for the opener's descriptor of the file dev/ino and
// reports a write-open if it (or another of its descriptors on that file)
// is open for writing. A descriptor not found may not be installed yet:
// it is looked for again a little later (and then maybe the open is over:
// a writer that quick still shows as Changed and Closed).
func (w *Watcher) resolveOpen(r fanOpen, dev, ino uint64, attempt int) {
	if w.stopped() {
		return // a look scheduled before the watcher stopped
	}
	r.closes, r.dev, r.ino = w.closes.Load(), dev, ino
	found, write, alive := openerWrites(r.pid, dev, ino)
	if !found && alive && attempt < len(fanRetry) && !w.stopped() {
		time.AfterFunc(fanRetry[attempt], func() { w.resolveOpen(r, dev, ino, attempt+1) })
		return
	}
	if write {
		r.user = w.users.name(r.pid)
		w.sendFan(r)
	}
}

func (w *Watcher) sendFan(r fanOpen) {
	select {
	case w.fanCh <- r:
	case <-w.done:
	}
}

// onFanOpen reports a write-open found by fanotify.
func (w *Watcher) onFanOpen(r fanOpen) {
	if r.overflow {
		w.push(Event{Op: OpensLost})
		return
	}
	if _, isLock := officeLock(r.rel[strings.LastIndexByte(r.rel, '/')+1:], false); isLock || w.opts.Filter.Excluded(r.rel, false) {
		return
	}
	if w.limited && !w.watched(dirOf(r.rel)) {
		// Its folder met the watch limit: its Closed would never come, and
		// a lock taken for it would be held for ever. The agent's periodic
		// scan reports what the writer did.
		return
	}
	if w.closeSeq[r.rel] > r.closes {
		// The file was Closed after the lookup found it open: that open
		// is over, and its WriteOpen would come after its Closed.
		return
	}
	if _, write, _ := openerWrites(r.pid, r.dev, r.ino); !write {
		// Closed since the lookup, maybe before the folder it is in was
		// watched (a new folder filled at once: an unzip), when no Closed
		// can come: that open is over. The file is reported by its Closed
		// if one comes, or by the Created of its folder's walk.
		return
	}
	if !w.isAt(r.rel, r.dev, r.ino) {
		// The file opened is no longer the one at the path: replaced (a
		// fetch renames a new copy over it), its inode number maybe given
		// to another file since, which the opener may well hold open for
		// writing. A writer of the file now at the path is reported by its
		// own open.
		return
	}
	delete(w.unseen, r.rel)
	w.writeOpen(Event{Op: WriteOpen, Path: r.rel, Pid: r.pid, User: r.user})
}

// isAt reports whether rel names the file dev/ino now. It opens rel with
// O_PATH, which no open detection reports.
func (w *Watcher) isAt(rel string, dev, ino uint64) bool {
	fd, err := w.openRel(rel, unix.O_PATH)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	return unix.Fstat(fd, &st) == nil && st.Dev == dev && st.Ino == ino
}

// writtenNow reports whether anyone has the file open as fd (read-only,
// which it closes) open for writing now: the kernel refuses a read lease
// (EAGAIN) exactly when someone has, and a lease granted is given back at
// once. known is false where no lease can be taken (fs.leases-enable=0, a
// file system without leases).
func writtenNow(fd int) (busy, known bool) {
	defer unix.Close(fd)
	switch err := fcntlLease(fd, unix.F_RDLCK); err {
	case nil:
		_ = fcntlLease(fd, unix.F_UNLCK)
		return false, true
	case unix.EAGAIN:
		return true, true
	}
	return false, false
}

// openerWrites is procOpenerWrites, a variable so that tests can make the
// first look miss the descriptor, as a busy machine makes it.
var openerWrites = procOpenerWrites

// procOpenerWrites looks through the descriptors of process pid for those
// open on the file dev/ino: found if there is one, write if one of them is
// open for writing (O_WRONLY or O_RDWR in /proc/PID/fdinfo); alive is false
// when the process is gone.
func procOpenerWrites(pid int, dev, ino uint64) (found, write, alive bool) {
	base := "/proc/" + strconv.Itoa(pid)
	d, err := os.Open(base + "/fd")
	if err != nil {
		return false, false, false
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		var st unix.Stat_t
		if unix.Stat(base+"/fd/"+n, &st) != nil || st.Dev != dev || st.Ino != ino {
			continue
		}
		found = true
		if flags, ok := fdFlags(base + "/fdinfo/" + n); ok && flags&unix.O_ACCMODE != unix.O_RDONLY {
			return true, true, true
		}
	}
	return found, false, true
}

// fdFlags reads the "flags:" line (octal) of a /proc fdinfo file.
func fdFlags(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("flags:")); ok {
			n, err := strconv.ParseUint(string(bytes.TrimSpace(v)), 8, 32)
			return int(n), err == nil
		}
	}
	return 0, false
}

// userCache maps uids to user names.
type userCache struct {
	mu    sync.Mutex
	names map[string]string
}

// name returns the user name of process pid's effective uid; the uid in
// decimal when it has no name; "" if the process is gone.
func (c *userCache) name(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return ""
	}
	var uid string
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("Uid:")); ok {
			if f := strings.Fields(string(v)); len(f) >= 2 {
				uid = f[1] // real, effective, saved, file system
			}
			break
		}
	}
	if uid == "" {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if n, ok := c.names[uid]; ok {
		return n
	}
	n := uid
	if u, err := user.LookupId(uid); err == nil {
		n = u.Username
	}
	if c.names == nil {
		c.names = map[string]string{}
	}
	c.names[uid] = n
	return n
}

// openWriters finds the files below the root that some process other
// than IgnorePid has open for writing right now, by one look through every
// process's descriptors in /proc: fanotify reports opens from its mark on,
// so the writers that opened before are found this way at start. It costs
// a readlink per open descriptor on the machine, not a look at every file
// of the tree. A descriptor counts if its path is below the root as this
// process sees it and names the same inode (a process in another mount
// namespace or chroot is not matched by a path it merely shares), it is
// open for writing (O_WRONLY or O_RDWR) and the file is not removed. It
// returns, by path, the first such process found.
func (w *Watcher) openWriters() map[string]int {
	prefix := w.real + "/"
	if w.real == "/" {
		prefix = "/"
	}
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	pids, _ := d.Readdirnames(-1)
	d.Close()
	found := map[string]int{}
	for _, n := range pids {
		pid, err := strconv.Atoi(n)
		if err != nil || pid == w.opts.IgnorePid {
			continue
		}
		base := "/proc/" + n
		fd, err := os.Open(base + "/fd")
		if err != nil {
			continue // gone, or not ours to look at (another user's, without root)
		}
		fds, _ := fd.Readdirnames(-1)
		fd.Close()
		for _, f := range fds {
			p, err := os.Readlink(base + "/fd/" + f)
			if err != nil || !strings.HasPrefix(p, prefix) {
				continue
			}
			rel := p[len(prefix):]
			if _, ok := found[rel]; ok || !validPath(rel) {
				continue
			}
			if flags, ok := fdFlags(base + "/fdinfo/" + f); !ok || flags&unix.O_ACCMODE == unix.O_RDONLY {
				continue
			}
			var open, there unix.Stat_t
			if unix.Stat(base+"/fd/"+f, &open) != nil || open.Mode&unix.S_IFMT != unix.S_IFREG || open.Nlink == 0 {
				continue
			}
			if unix.Lstat(p, &there) != nil || there.Dev != open.Dev || there.Ino != open.Ino {
				continue
			}
			found[rel] = pid
		}
	}
	return found
}

// reportOpenWriters reports, at start in Fanotify mode, the files already
// open for writing (see openWriters). Their Closed comes from inotify like
// any other's, the folders being watched by then.
func (w *Watcher) reportOpenWriters() {
	for rel, pid := range w.openWriters() {
		name := rel[strings.LastIndexByte(rel, '/')+1:]
		if _, isLock := officeLock(name, false); isLock || w.opts.Filter.Excluded(rel, false) || w.open[rel] {
			continue
		}
		w.writeOpen(Event{Op: WriteOpen, Path: rel, Pid: pid, User: w.users.name(pid)})
	}
}
