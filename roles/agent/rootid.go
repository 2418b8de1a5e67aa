package agent

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/peerlink/peerlink/sync/filter"
	"github.com/peerlink/peerlink/wire"
)

// The root's identity (issue 14: "a host that returns with a different
// root"; wire/rootid.go). The agent keeps a marker, RootIDFile, in the
// root's .peerlink area (which no session synchronises), holding a random
// id, and reports it on every attach with the file system's and the
// root folder's identity; the hub decides. A copy of the root carries the
// marker but not the folder's identity (another inode, often another file
// system), and a replaced disk or an unmounted share carries neither.
//
// The marker is written where the root has none and either the hub
// recorded no id (a first attach: a new id) or the root holds nothing the
// session takes (an empty root gets back the id the hub recorded: it is
// the breaker's case, and the files it gets back must not make it look
// like another root at the next attach), or the root is the very folder
// the hub recorded (same file system and inode: the marker was deleted
// with the rest, by hand, and people wrote new files since). A root with
// files and no marker in another folder, on a host the hub recorded an id
// for, gets none: the hub refuses it.

// RootIDFile is the marker's path below a session's root.
const RootIDFile = ".peerlink/root-id"

// rootIdentity reads (and, as above, writes) the marker of root and
// returns what identifies it.
func rootIdentity(root string, f *filter.Filter, m *wire.Attach) (wire.RootIdentity, error) {
	var id wire.RootIdentity
	r, err := os.OpenRoot(root)
	if err != nil {
		return id, err
	}
	defer r.Close()
	if id.FS, id.Inode, err = folderIdentity(root); err != nil {
		return id, err
	}
	if id.ID, err = readRootID(r); err != nil {
		return id, err
	}
	if id.Empty, err = rootEmpty(r, f); err != nil {
		return id, err
	}
	recorded := m.RootID
	sameFolder := m.RootFS != 0 && id.FS == m.RootFS && id.Inode == m.RootInode
	if id.ID == "" && (recorded == "" || id.Empty || sameFolder) {
		id.ID = recorded
		if id.ID == "" {
			id.ID = rand.Text()
		}
		if err := writeRootID(r, id.ID); err != nil {
			return id, fmt.Errorf("write the root's marker %s: %w", RootIDFile, err)
		}
		id.Created = true
	}
	return id, nil
}

// readRootID returns the id in root's marker, "" where it has none.
func readRootID(r *os.Root) (string, error) {
	f, err := r.Open(RootIDFile)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the root's marker %s: %w", RootIDFile, err)
	}
	defer f.Close()
	b := make([]byte, wire.MaxRootID+1)
	n, err := f.Read(b)
	if err != nil && n == 0 {
		return "", fmt.Errorf("read the root's marker %s: %w", RootIDFile, err)
	}
	id := strings.TrimSpace(string(b[:n]))
	if len(id) > wire.MaxRootID {
		id = id[:wire.MaxRootID]
	}
	if wire.CheckRootID(id) != nil {
		// Not one of ours: as good as none, so a root with files is
		// refused and one without gets a new marker.
		return "", nil
	}
	return id, nil
}

// writeRootID writes the marker: temp file, fsync, rename.
func writeRootID(r *os.Root, id string) error {
	if err := r.MkdirAll(".peerlink", 0o755); err != nil {
		return err
	}
	tmp := RootIDFile + ".new"
	f, err := r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(id + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.Rename(tmp, RootIDFile)
	}
	if err != nil {
		r.Remove(tmp)
	}
	return err
}

// rootEmpty says whether root holds nothing the session takes: its
// listing only, which is cheap whatever the tree's size.
func rootEmpty(r *os.Root, f *filter.Filter) (bool, error) {
	d, err := r.Open(".")
	if err != nil {
		return false, err
	}
	defer d.Close()
	for {
		ents, err := d.ReadDir(64)
		for _, e := range ents {
			if !f.Excluded(e.Name(), e.IsDir()) {
				return false, nil
			}
		}
		if err != nil {
			return true, nil // io.EOF, or a listing that failed: the scan says
		}
	}
}
