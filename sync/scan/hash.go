package scan

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/peerlink/peerlink/sync/delta"
	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/wire"
)

// readBuf is each worker's read size: large enough that a big file costs
// few system calls, and the only memory a hash needs whatever the file's
// size.
const readBuf = 1 << 20

// feedBuf is the read size of a file whose span list is computed beside
// its hash (delta.Feed): small enough that its buffers cost little for
// every large file, large enough that handing them over costs nothing.
const feedBuf = 256 << 10

// job is one file to hash. The worker fills in the result and closes done.
type job struct {
	path string
	info tree.Info // as the walk saw it
	done chan struct{}

	entry  wire.Entry // Kind 0 when the file vanished
	warn   *wire.Error
	read   bool // content was read (counts in ScanStats.Hashed)
	cache  bool // cached is worth recording
	cached Cached
	spans  []delta.Block // the file's delta signature, for one of delta.MinSize or more

	// again, when set, runs before the file is read a second time: tests
	// change the file there, which a real writer does when it pleases.
	again func()
}

func hashWorker(ctx context.Context, t *tree.Tree, jobs <-chan *job) {
	buf := make([]byte, readBuf)
	for {
		select {
		case j, ok := <-jobs:
			if !ok {
				return
			}
			j.hash(ctx, t, buf)
			close(j.done)
		case <-ctx.Done():
			return
		}
	}
}

// hash reads the file and checks that it did not change meanwhile: its
// size, mtime, ctime and inode after the read must be those before it. A
// file that changed is read once more, from its new state; one that changes
// again is being written right now and is left out with a KindChanged
// warning, to be picked up by the watcher or the next scan.
func (j *job) hash(ctx context.Context, t *tree.Tree, buf []byte) {
	before := j.info
	for attempt := range 2 {
		if attempt > 0 && j.again != nil {
			j.again()
		}
		start := time.Now()
		// A large file's delta signature is computed in the same read as
		// its hash, so that an unchanged file is never read for it.
		var signer *delta.Signer
		if before.Size >= delta.MinSize {
			signer = delta.NewSpans()
		}
		sum, after, whole, err := hashFile(ctx, t, j.path, buf, signer)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return // removed since the walk: simply not there
		case ctx.Err() != nil:
			return // the collector is gone too
		case err != nil:
			we := wire.ToError("scan", "", j.path, err)
			we.Msg = "not read: " + we.Msg
			j.warn = we
			return
		}
		j.read = true
		if whole && same(before, after) {
			j.entry = after.Entry(j.path)
			j.entry.Hash = sum
			j.cached = cachedOf(after, sum)
			if signer != nil {
				j.spans = signer.Blocks()
			}
			j.cache = after.Ctime < start.Add(-racyWindow).UnixNano()
			return
		}
		before = after
	}
	j.warn = &wire.Error{Kind: wire.KindChanged, Op: "scan", Path: j.path,
		Msg: "changed while being read, twice: left out of this scan; it is being written"}
}

func same(a, b tree.Info) bool {
	return a.Kind == b.Kind && a.Size == b.Size && a.Mtime == b.Mtime && a.Ctime == b.Ctime && a.Ino == b.Ino
}

// hashFile streams the file through SHA-256, and through spans unless it is
// nil, and returns its state after the read; whole is false when the bytes read are not the size that state
// reports (the file changed under the read).
func hashFile(ctx context.Context, t *tree.Tree, path string, buf []byte, spans *delta.Signer) (sum wire.Hash, after tree.Info, whole bool, err error) {
	f, err := t.OpenRead(path)
	if err != nil {
		return sum, after, false, err
	}
	defer f.Close()
	h := sha256.New()
	var n int64
	if spans != nil {
		// The span list is computed beside the hash, on another core.
		if n, err = delta.Feed(ctx, f, h, spans, feedBuf); err != nil {
			return sum, after, false, fmt.Errorf("read %s: %w", path, err)
		}
	} else {
		for {
			if err := ctx.Err(); err != nil {
				return sum, after, false, err
			}
			k, err := f.Read(buf)
			h.Write(buf[:k])
			n += int64(k)
			if err == io.EOF {
				break
			}
			if err != nil {
				return sum, after, false, fmt.Errorf("read %s: %w", path, err)
			}
		}
	}
	after, err = tree.Stat(f)
	if err != nil {
		return sum, after, false, err
	}
	h.Sum(sum[:0])
	return sum, after, n == after.Size, nil
}
