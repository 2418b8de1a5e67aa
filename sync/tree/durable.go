package tree

import (
	"cmp"
	"errors"
	"io/fs"
	"slices"
	"sync/atomic"

	"github.com/peerlink/peerlink/wire"
)

// markDirty records that the entries of folder rel changed and are not yet
// known to be on disk.
func (t *Tree) markDirty(rel string) {
	t.mu.Lock()
	t.dirty[rel] = struct{}{}
	t.mu.Unlock()
}

// stage queues a committed temp file for the next Sync.
func (t *Tree) stage(s staged) {
	t.mu.Lock()
	t.staged = append(t.staged, s)
	t.mu.Unlock()
}

// Sync completes every Commit staged with DeferSync since the last Sync, and
// makes those and every other change to a folder since then (Mkdir, Remove,
// Rename, folders created on the way) durable. Call it before reporting a
// batch of such changes as done to anyone.
//
// Steps, and what a crash leaves, for the staged files:
//  1. one syncfs for all their content (an fsync each for a few files: see
//     fsyncEachMax)                     crash before: old content, temps left
//     over for the next scan to remove
//  2. per file: check against have, rename  crash: old or new content
//  3. one fsync per folder touched      from here: the new content, durably
//
// On ext4 (and xfs, btrfs) an fsync commits the whole running journal
// transaction, so the folders after the first cost little. syncfs writes out
// everything dirty on the root's file system, other programs' data included:
// once per batch, it still costs far less than one fsync per file. Where
// there is no syncfs (haveSyncfs false: every system but Linux) step 1 is
// skipped, because each Commit fsynced its own file before staging it.
//
// failed names each staged file that was not put in place, as a *wire.Error
// with its path (KindChanged when its destination changed since the scan);
// its temp file is removed. err reports a sync that failed: when syncfs fails
// no staged file is placed (its content may not be on disk) and all of them
// are in failed; when a folder's fsync fails its changes are in place but may
// not survive a power loss, and it stays recorded for the next Sync.
//
// Syncs run one at a time: when Sync returns, every Commit staged and every
// change made before it was called has been dealt with (by this Sync or an
// earlier one), and each staged file's Staged outcome is decided: nil only
// once its content, its rename and its folder are durable.
func (t *Tree) Sync() (failed []*wire.Error, err error) {
	t.syncMu.Lock()
	defer t.syncMu.Unlock()
	t.mu.Lock()
	batch, dirs := t.staged, t.dirty
	t.staged, t.dirty = nil, make(map[string]struct{}, len(dirs))
	t.mu.Unlock()

	var errs []error
	if len(batch) > 0 && haveSyncfs {
		var rest []staged // to make durable with one syncfs
		if len(batch) <= fsyncEachMax {
			var ferrs []error
			batch, rest, failed, ferrs = t.fsyncEach(batch)
			errs = append(errs, ferrs...)
		} else {
			batch, rest = nil, batch
		}
		if len(rest) > 0 {
			if err := t.syncAll(); err != nil {
				err = &fs.PathError{Op: "syncfs", Path: t.dir, Err: err}
				for _, s := range rest {
					we := wire.ToError("commit", "", s.path, err)
					failed = append(failed, we)
					t.removeTemp(s)
					s.finish(we)
				}
				errs = append(errs, err)
			} else {
				batch = append(batch, rest...)
			}
		}
	}
	// Group by folder so each is opened once.
	slices.SortFunc(batch, func(a, b staged) int { return cmp.Compare(wire.Parent(a.path), wire.Parent(b.path)) })
	placed := make(map[string][]staged) // by folder, decided by its fsync
	for i := 0; i < len(batch); {
		parent := wire.Parent(batch[i].path)
		j := i
		for j < len(batch) && wire.Parent(batch[j].path) == parent {
			j++
		}
		d, err := t.openFolder(parent, false)
		for _, s := range batch[i:j] {
			if err == nil {
				if perr := s.place(d, nil); perr != nil {
					we := wire.ToError("commit", "", s.path, perr)
					failed = append(failed, we)
					s.unlinkIn(d)
					s.finish(we)
				} else {
					dirs[parent] = struct{}{}
					placed[parent] = append(placed[parent], s)
				}
			} else {
				we := wire.ToError("commit", "", s.path, err)
				failed = append(failed, we)
				t.removeTemp(s)
				s.finish(we)
			}
		}
		if err == nil {
			d.close()
		}
		i = j
	}
	for rel := range dirs {
		d, err := t.openFolder(rel, false)
		if errors.Is(err, fs.ErrNotExist) {
			for _, s := range placed[rel] {
				s.finish(nil)
			}
			continue // removed since: nothing of it to make durable
		}
		if err == nil {
			err = d.sync()
			d.close()
			if err != nil {
				err = &fs.PathError{Op: "fsync", Path: rel, Err: err}
			}
		}
		if err != nil {
			errs = append(errs, err)
			t.markDirty(rel)
		}
		for _, s := range placed[rel] {
			if err != nil {
				// In place, but its durability is in doubt: not done.
				we := wire.ToError("commit", "", s.path, err)
				failed = append(failed, we)
				s.finish(we)
			} else {
				s.finish(nil)
			}
		}
	}
	return failed, errors.Join(errs...)
}

// fsyncEachMax is the largest batch Sync makes durable with an fsync per
// file rather than one syncfs. syncfs writes out every dirty page of the
// file system, other programs' included: for a few files, as a live
// session applies them one change at a time, that costs far more on a busy
// disk than their own fsyncs. Measured with make bench's live scenarios (a
// 1-4 KiB file per Sync, two agents, other work writing to the same disk):
// syncfs p50 1.4 ms, p99 52 ms; a folder's fsync p99 1.7 ms.
var fsyncEachMax = 8

// fsyncEach makes the content of each staged file durable with an fsync of
// its temp file, and returns those it did in done. A file the agent may not
// open (its mode is already the one wanted, say 0200, and the agent is not
// root) is returned in rest, for a syncfs. A file that fails otherwise is
// returned in failed with its outcome decided and its temp file removed,
// and its error in errs.
func (t *Tree) fsyncEach(batch []staged) (done, rest []staged, failed []*wire.Error, errs []error) {
	for _, s := range batch {
		d, err := t.openFolder(wire.Parent(s.path), false)
		if err == nil {
			err = d.fsyncFile(s.tmp)
			if errors.Is(err, fs.ErrPermission) {
				d.close()
				rest = append(rest, s)
				continue
			}
			if err != nil {
				s.unlinkIn(d)
			}
			d.close()
		} else {
			t.removeTemp(s)
		}
		if err != nil {
			err = &fs.PathError{Op: "fsync", Path: join(wire.Parent(s.path), s.tmp), Err: err}
			we := wire.ToError("commit", "", s.path, err)
			failed = append(failed, we)
			errs = append(errs, err)
			s.finish(we)
			continue
		}
		done = append(done, s)
	}
	return done, rest, failed, errs
}

// finish decides the staged file's outcome for its Commit's caller and
// releases its folder.
func (s staged) finish(err error) {
	if s.held != nil {
		s.dir.close()
		s.held.Add(-1)
	}
	if s.out != nil {
		s.out.finish(err)
	}
}

// maxHeldFolders bounds the folders held open for staged files (see
// holdFolder), well below any descriptor limit: a batch of thousands of
// small files in as many folders holds the first ones only.
const maxHeldFolders = 256

// holdFolder keeps d, the folder a staged file's temp file was written in,
// open until the Sync that decides the file, and returns the count to give
// back then; nil when the limit is reached and d must be closed. A staged
// file is put in place by its path, as the hub planned it, but a user may
// rename its folder in the meantime: then only the held folder still finds
// the temp file to remove it. Without it the temp file stays in the renamed
// folder until the next scan, in view of the share's users.
func (t *Tree) holdFolder(d folder) (folder, *atomic.Int32) {
	if t.heldFolders.Add(1) > maxHeldFolders {
		t.heldFolders.Add(-1)
		return folder{}, nil
	}
	return d, &t.heldFolders
}

// removeTemp removes a staged file's temp file, from the folder held for it
// or else from the folder at its path; failing that, the next scan will.
func (t *Tree) removeTemp(s staged) {
	if s.held != nil {
		s.dir.unlink(s.tmp)
		return
	}
	if d, err := t.openFolder(wire.Parent(s.path), false); err == nil {
		s.unlinkIn(d)
		d.close()
	}
}

// unlinkIn removes the temp file after a failed placement in d, the folder
// now at its path, or in the held folder, which is where the temp file is
// when d is another folder.
func (s *staged) unlinkIn(d folder) {
	if s.held != nil {
		d = s.dir
	}
	d.unlink(s.tmp)
}
