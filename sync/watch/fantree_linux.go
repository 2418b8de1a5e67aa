//go:build linux && !watch_fsnotify

package watch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// fanTreeMask is what TreeFanotify's mark asks for: every change to the
// tree (a rename as one event with both names, FAN_RENAME), content
// modifications, closes of writers and metadata, of folders too.
const fanTreeMask = unix.FAN_CREATE | unix.FAN_DELETE | unix.FAN_RENAME | unix.FAN_MODIFY |
	unix.FAN_CLOSE_WRITE | unix.FAN_ATTRIB | unix.FAN_ONDIR

// fanTreeInit makes TreeFanotify's group: events carry the handle of the
// folder and the name of the entry (FAN_REPORT_DFID_NAME), and the handle of
// the entry itself (FAN_REPORT_TARGET_FID), by which the two halves of
// nothing need pairing and a folder removed since can still be placed. A
// variable, so that a test can give it a tiny queue.
var fanTreeInit = func() (int, error) {
	return unix.FanotifyInit(unix.FAN_CLASS_NOTIF|unix.FAN_CLOEXEC|unix.FAN_NONBLOCK|unix.FAN_REPORT_DFID_NAME_TARGET,
		unix.O_RDONLY|unix.O_CLOEXEC)
}

// fanTree is TreeFanotify's group, and what turns its folder handles into
// paths: a descriptor on the root's mount for open_by_handle_at, and the
// paths found so far. Only the goroutine reading the group uses it.
type fanTree struct {
	f     *os.File
	mount int // a descriptor of the root (open_by_handle_at refuses an O_PATH one)
	paths handleCache
}

// openFanTree marks the file system holding real, the root with symlinks
// resolved, and checks that this process can turn the handles it will
// report back into paths (CAP_DAC_READ_SEARCH).
func openFanTree(real string) (*fanTree, error) {
	fd, err := fanTreeInit()
	if err != nil {
		if errors.Is(err, unix.EINVAL) {
			return nil, fmt.Errorf("fanotify_init FAN_REPORT_DFID_NAME_TARGET: %w (it needs Linux 5.17 or later)", err)
		}
		return nil, fmt.Errorf("fanotify_init FAN_REPORT_DFID_NAME_TARGET: %w (it needs root or CAP_SYS_ADMIN)", err)
	}
	t := &fanTree{f: os.NewFile(uintptr(fd), "fanotify-tree"), mount: -1}
	if err := unix.FanotifyMark(fd, unix.FAN_MARK_ADD|unix.FAN_MARK_FILESYSTEM, fanTreeMask, unix.AT_FDCWD, real); err != nil {
		t.close()
		return nil, fmt.Errorf("fanotify_mark FAN_MARK_FILESYSTEM %s: %w (the file system must report file handles)", real, err)
	}
	if t.mount, err = unix.Open(real, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		t.close()
		return nil, fmt.Errorf("open %s: %w", real, err)
	}
	h, _, err := unix.NameToHandleAt(t.mount, "", unix.AT_EMPTY_PATH)
	if err == nil {
		var hfd int
		if hfd, err = unix.OpenByHandleAt(t.mount, h, unix.O_PATH|unix.O_CLOEXEC); err == nil {
			unix.Close(hfd)
		}
	}
	if err != nil {
		t.close()
		return nil, fmt.Errorf("open_by_handle_at on %s: %w (it needs root or CAP_DAC_READ_SEARCH)", real, err)
	}
	return t, nil
}

func (t *fanTree) close() {
	t.f.Close()
	if t.mount >= 0 {
		unix.Close(t.mount)
	}
}

func probeFanotifyTree(root string) error {
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return err
	}
	t, err := openFanTree(real)
	if err != nil {
		return err
	}
	t.close()
	return nil
}

// fanRec is one event of the tree group as the kernel gave it. Handles are
// kept as strings of their type and bytes (see handleKey).
type fanRec struct {
	mask      uint64
	dir, name string // the folder and the entry's name in it; for a rename, where it went
	oldDir    string // a rename: where it was
	oldName   string
	child     string // the entry's own handle, when reported
}

// Info record types (struct fanotify_event_info_header.info_type).
const (
	infoFID         = unix.FAN_EVENT_INFO_TYPE_FID
	infoDFIDName    = unix.FAN_EVENT_INFO_TYPE_DFID_NAME
	infoOldDFIDName = unix.FAN_EVENT_INFO_TYPE_OLD_DFID_NAME
	infoNewDFIDName = unix.FAN_EVENT_INFO_TYPE_NEW_DFID_NAME
)

// errFanVersion: the kernel speaks another fanotify_event_metadata.
var errFanVersion = errors.New("fanotify event of an unknown version")

// decodeFanTree decodes a read from the tree group. An event without a
// folder and name (the link count of a file already removed) is left out:
// its removal was its own event.
func decodeFanTree(b []byte) ([]fanRec, error) {
	out := make([]fanRec, 0, len(b)/64)
	for len(b) >= fanMetaLen {
		evLen := int(binary.NativeEndian.Uint32(b[0:]))
		if b[4] != unix.FANOTIFY_METADATA_VERSION || evLen < fanMetaLen || evLen > len(b) {
			return out, errFanVersion
		}
		metaLen := int(binary.NativeEndian.Uint16(b[6:]))
		r := fanRec{mask: binary.NativeEndian.Uint64(b[8:])}
		if metaLen < fanMetaLen || metaLen > evLen {
			metaLen = fanMetaLen
		}
		decodeInfo(b[metaLen:evLen], &r)
		b = b[evLen:]
		if r.mask&unix.FAN_Q_OVERFLOW != 0 || r.dir != "" {
			out = append(out, r)
		}
	}
	return out, nil
}

// decodeInfo reads an event's info records (struct fanotify_event_info_fid:
// a header, the file system's id, a struct file_handle, and for the DFID_NAME
// kinds the name, NUL-terminated) into r.
func decodeInfo(b []byte, r *fanRec) {
	for len(b) >= 4 {
		typ, n := b[0], int(binary.NativeEndian.Uint16(b[2:]))
		if n < 4 || n > len(b) {
			return
		}
		rec := b[:n]
		b = b[n:]
		if len(rec) < 20 {
			continue
		}
		hb := int(binary.NativeEndian.Uint32(rec[12:]))
		if 20+hb > len(rec) {
			continue
		}
		key := string(rec[16 : 20+hb]) // the handle's type and bytes
		name := rec[20+hb:]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		switch typ {
		case infoFID:
			r.child = key
		case infoDFIDName, infoNewDFIDName:
			r.dir, r.name = key, string(name)
		case infoOldDFIDName:
			r.oldDir, r.oldName = key, string(name)
		}
	}
}

// handleOf rebuilds a file handle from its key.
func handleOf(key string) unix.FileHandle {
	return unix.NewFileHandle(int32(binary.NativeEndian.Uint32([]byte(key[:4]))), []byte(key[4:]))
}

// readTree reads the tree group, places its events below the root, and
// hands them to the loop. While the loop is busy it waits, and the
// kernel's queue overflows: that is the back-pressure, as with inotify.
func (w *Watcher) readTree() {
	defer w.workers.Done()
	buf := make([]byte, 256<<10)
	for {
		n, err := w.ftree.f.Read(buf)
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
		recs, err := decodeFanTree(buf[:n])
		if err != nil {
			w.stop(fmt.Errorf("watch %s: %w", w.root, err))
			return
		}
		evs := w.ftree.place(recs, w.real)
		if rootMayHaveGone(recs) {
			if err := w.rootThere(); err != nil {
				evs = append(evs, treeEvent{err: err})
			}
		}
		if len(evs) == 0 {
			continue
		}
		select {
		case w.treeCh <- evs:
		case <-w.done:
			return
		}
	}
}

// rootMayHaveGone reports whether recs hold a folder's removal or rename,
// which may be the root's or a folder's above it.
func rootMayHaveGone(recs []fanRec) bool {
	for _, r := range recs {
		if r.mask&unix.FAN_ONDIR != 0 && r.mask&(unix.FAN_DELETE|unix.FAN_RENAME) != 0 {
			return true
		}
	}
	return false
}

// rootThere checks that the root is still the folder being watched, at its
// path: no per-folder watch is there to say it went.
func (w *Watcher) rootThere() error {
	fd, err := w.openRoot()
	if err == nil {
		unix.Close(fd)
		return nil
	}
	if errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("watch %s: the root was removed", w.root)
	}
	return fmt.Errorf("watch %s: the root was moved away or replaced: %w", w.root, err)
}
