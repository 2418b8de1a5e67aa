//go:build linux && !watch_fsnotify

package watch

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// leasesEnabled reports whether the kernel grants leases at all.
func leasesEnabled() bool {
	return readSysctl("fs.leases-enable") != 0
}

// leaseTable holds the read leases of Lease mode: per file, a read-only
// descriptor with F_SETLEASE F_RDLCK on it. A write-open of the file by
// anyone breaks the lease: the kernel holds the opener in open(2) and sends
// SIGIO; the watcher then releases the lease (which lets the opener go on)
// and reports the WriteOpen. The table is shared by the loop (which arms,
// renames and drops) and the goroutine that handles SIGIO.
type leaseTable struct {
	mu    sync.Mutex
	max   int
	files map[string]*lease // by path: armed, or broken and waiting for the writer's close
	// Probe counts: leases taken, and refusals that are the file system's
	// rather than the file's.
	granted, refused int
}

type lease struct {
	fd int // the descriptor holding the lease; -1 while broken
}

type armResult uint8

const (
	armOK   armResult = iota // leased
	armBusy                  // open for writing right now (F_SETLEASE: EAGAIN)
	armSkip                  // not leased: gone, not a regular file, over the bound, refused
)

// arm leases the file open as fd (a read-only descriptor the table takes
// over), at path rel, replacing any lease rel had.
func (t *leaseTable) arm(fd int, rel string) armResult {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return armSkip
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.files[rel]
	if l == nil && len(t.files) >= t.max {
		unix.Close(fd)
		return armSkip
	}
	if l != nil && l.fd >= 0 {
		unix.Close(l.fd)
		l.fd = -1
	}
	// Under the mutex: a break that comes at once must find the lease in
	// the table, or its writer waits for the kernel's lease-break-time.
	switch err := fcntlLease(fd, unix.F_RDLCK); err {
	case nil:
		if l == nil {
			l = &lease{}
			t.files[rel] = l
		}
		l.fd = fd
		t.granted++
		return armOK
	case unix.EAGAIN:
		unix.Close(fd)
		if l == nil {
			l = &lease{fd: -1}
			t.files[rel] = l
		}
		return armBusy
	default:
		// EACCES: not the file's owner and no CAP_LEASE. EINVAL, ENOLCK:
		// the file system has no leases.
		unix.Close(fd)
		if err != unix.EACCES && err != unix.EPERM {
			t.refused++
		}
		delete(t.files, rel)
		return armSkip
	}
}

func fcntlLease(fd, typ int) error {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_SETLEASE, typ)
	return err
}

// none reports whether leases were tried, none was granted, and the file
// system refused them: leases do not work here.
func (t *leaseTable) none() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.granted == 0 && t.refused > 0
}

// tracked reports whether rel has a lease, armed or broken.
func (t *leaseTable) tracked(rel string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.files[rel] != nil
}

// broken reports whether rel's lease is broken (and not re-armed yet).
func (t *leaseTable) broken(rel string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.files[rel]
	return l != nil && l.fd < 0
}

// breaks finds the leases being broken, takes them out of the table (as
// broken) and returns their paths and descriptors: closing a descriptor
// releases its lease and lets the opener go on.
func (t *leaseTable) breaks() (paths []string, fds []int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for rel, l := range t.files {
		if l.fd < 0 {
			continue
		}
		// While a lease is being broken, F_GETLEASE answers with the type
		// it is being broken to: F_UNLCK for a write-open.
		typ, err := unix.FcntlInt(uintptr(l.fd), unix.F_GETLEASE, 0)
		if err == nil && typ == unix.F_RDLCK {
			continue
		}
		paths, fds = append(paths, rel), append(fds, l.fd)
		l.fd = -1
	}
	return paths, fds
}

// rename moves the leases at or below from to below to, dropping what was
// at to.
func (t *leaseTable) rename(from, to string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropLocked(to)
	rekey(t.files, from, to)
}

// drop releases the leases at or below rel.
func (t *leaseTable) drop(rel string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropLocked(rel)
}

func (t *leaseTable) dropLocked(rel string) {
	for p, l := range t.files {
		if under(p, rel) {
			if l.fd >= 0 {
				unix.Close(l.fd)
			}
			delete(t.files, p)
		}
	}
}

// validate drops the leases whose path no longer names the leased file (or
// nothing), after lost events, and returns their paths.
func (t *leaseTable) validate(open func(rel string, flags int) (int, error)) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []string
	for rel, l := range t.files {
		var now, leased unix.Stat_t
		ok := false
		if fd, err := open(rel, unix.O_PATH); err == nil {
			ok = unix.Fstat(fd, &now) == nil && now.Mode&unix.S_IFMT == unix.S_IFREG
			unix.Close(fd)
		}
		if ok && l.fd >= 0 {
			ok = unix.Fstat(l.fd, &leased) == nil && leased.Dev == now.Dev && leased.Ino == now.Ino
		}
		if !ok {
			if l.fd >= 0 {
				unix.Close(l.fd)
			}
			delete(t.files, rel)
			out = append(out, rel)
		}
	}
	return out
}

func (t *leaseTable) closeAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for rel, l := range t.files {
		if l.fd >= 0 {
			unix.Close(l.fd)
		}
		delete(t.files, rel)
	}
}

// watchLeases handles SIGIO: each one may be any number of breaks (signals
// of one kind merge), so every armed lease is asked.
func (w *Watcher) watchLeases() {
	defer w.workers.Done()
	for {
		select {
		case <-w.done:
			return
		case <-w.sigs:
			paths, fds := w.leases.breaks()
			if len(paths) == 0 {
				continue
			}
			// Queue the WriteOpen before the writer can go on, so that it
			// comes before whatever the writer does; but never keep the
			// writer waiting on the loop (it is held in open(2) until the
			// lease is released).
			sent := false
			select {
			case w.leaseCh <- paths:
				sent = true
			default:
			}
			for _, fd := range fds {
				unix.Close(fd)
			}
			if !sent {
				select {
				case w.leaseCh <- paths:
				case <-w.done:
					return
				}
			}
		}
	}
}

// onLeaseBreak reports the write-opens that broke leases.
func (w *Watcher) onLeaseBreak(paths []string) {
	now := time.Now()
	for _, rel := range paths {
		if !w.open[rel] {
			w.writeOpen(Event{Op: WriteOpen, Path: rel})
		}
		// Re-armed on the writer's Closed; checked now and then in case
		// it never comes (a truncate by path breaks a lease too).
		w.rearm[rel] = &retry{at: now.Add(staleAfter), stale: true}
	}
}

// armFile leases rel (Lease mode). afterClose says it is re-armed after a
// Closed: then a refusal may be the closer itself, still on its way out,
// and is tried again shortly before it counts as another writer.
func (w *Watcher) armFile(rel string, afterClose bool) {
	fd, err := w.openRel(rel, leaseFlags)
	w.armOpened(fd, err, rel, afterClose)
}

// leaseFlags open a file to lease it: read-only (a read lease needs it),
// and without waiting on another's write lease.
const leaseFlags = unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY

// armOpened is armFile with the file already opened (fd, err).
func (w *Watcher) armOpened(fd int, err error, rel string, afterClose bool) {
	if err != nil {
		delete(w.rearm, rel)
		return
	}
	switch w.leases.arm(fd, rel) {
	case armOK:
		delete(w.rearm, rel)
	case armBusy:
		if r := w.rearm[rel]; afterClose && (r == nil || r.stale) {
			w.rearm[rel] = &retry{at: time.Now().Add(rearmRetry)}
			return
		}
		// Someone has it open for writing now.
		if !w.open[rel] {
			w.writeOpen(Event{Op: WriteOpen, Path: rel})
		}
		w.rearm[rel] = &retry{at: time.Now().Add(staleAfter), stale: true}
	case armSkip:
		delete(w.rearm, rel)
	}
}

// retryLease is a due re-arm.
func (w *Watcher) retryLease(rel string, r *retry) {
	if w.leases == nil {
		return
	}
	if !r.stale {
		w.armFile(rel, false)
		return
	}
	if !w.leases.broken(rel) {
		return // re-armed (or dropped) meanwhile
	}
	fd, err := w.openRel(rel, leaseFlags)
	if err != nil {
		return
	}
	switch w.leases.arm(fd, rel) {
	case armOK:
		// Nobody has it open for writing, and no Closed came: the writer
		// went without one.
		if w.open[rel] {
			delete(w.open, rel)
			delete(w.dirty, rel)
			w.push(Event{Op: Closed, Path: rel})
		}
	case armBusy:
		w.rearm[rel] = &retry{at: time.Now().Add(staleAfter), stale: true}
	}
}

// Lease re-arming; variables so that tests can shorten them.
var (
	// rearmRetry: a lease refused right after a Closed is tried again this
	// much later, since the closing writer may not have let go of the
	// file yet when its close event is read.
	rearmRetry = 10 * time.Millisecond
	// staleAfter: a broken lease whose writer never closed (a truncate by
	// path breaks a lease with no open at all) is tried again this often;
	// once it can be re-armed, nobody has the file open for writing and a
	// Closed is reported.
	staleAfter = 5 * time.Second
)

// retry is a pending lease re-arm.
type retry struct {
	at    time.Time
	stale bool // the periodic check of a lease broken with no Closed since
}
