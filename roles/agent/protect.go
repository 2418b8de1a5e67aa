package agent

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/wire"
)

// ProtectedDir is a root's protected area, kept out of every session by the
// default filter. Target protection keeps there every copy the agent
// replaces or deletes, as ProtectedDir/STAMP/PATH where STAMP is the UTC
// time of the change (2006-01-02_150405); an administrator recovers a copy
// by copying it back.
const ProtectedDir = ".peerlink/protected"

const stampLayout = "2006-01-02_150405"

// protection keeps copies before they are replaced or deleted. A nil
// *protection keeps nothing (target protection is off).
type protection struct {
	t    *tree.Tree
	days int
	now  func() time.Time

	// kept remembers the copies kept lately, so that an op tried again (a
	// repair after a failed fetch) does not give the same copy one more
	// protected name at every try.
	mu   sync.Mutex
	kept map[string]keptCopy
}

// keptCopy identifies a file given a protected name.
type keptCopy struct {
	ino   uint64
	size  int64
	mtime int64
}

// maxKept bounds protection.kept; past it, the memory starts over.
const maxKept = 4096

func newProtection(t *tree.Tree, days int) *protection {
	if days <= 0 {
		return nil
	}
	return &protection{t: t, days: days, now: time.Now}
}

// place returns a free protected name for path.
func (p *protection) place(path string) (string, error) {
	base := ProtectedDir + "/" + p.now().UTC().Format(stampLayout) + "/" + path
	for i := 0; i < 100; i++ {
		dst := base
		if i > 0 {
			dst = base + "." + strconv.Itoa(i)
		}
		if _, err := p.t.Lstat(dst); errors.Is(err, fs.ErrNotExist) {
			return dst, nil
		}
	}
	return "", fmt.Errorf("no free name for a protected copy of %s under %s", path, ProtectedDir)
}

// keep gives the file at path a second name in the protected area, so the
// content survives the rename of a new copy over it. Where hard links are
// not possible it copies the file.
func (p *protection) keep(path string) error {
	if p == nil {
		return nil
	}
	info, err := p.t.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // nothing to keep: the op itself will judge the missing copy
	}
	id := keptCopy{ino: info.Ino, size: info.Size, mtime: info.Mtime}
	p.mu.Lock()
	already := err == nil && p.kept[path] == id
	p.mu.Unlock()
	if already {
		return nil
	}
	dst, err := p.place(path)
	if err != nil {
		return err
	}
	err = p.t.Link(path, dst)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if errors.Is(err, errors.ErrUnsupported) {
		err = p.copy(path, dst)
	}
	if err != nil {
		return protectErr(path, err)
	}
	p.mu.Lock()
	if p.kept == nil || len(p.kept) >= maxKept {
		p.kept = map[string]keptCopy{}
	}
	p.kept[path] = id
	p.mu.Unlock()
	return nil
}

// move puts path (a file or a whole folder) in the protected area instead
// of deleting it.
func (p *protection) move(path string) error {
	dst, err := p.place(path)
	if err != nil {
		return protectErr(path, err)
	}
	if err := p.t.Rename(path, dst); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return protectErr(path, err)
	}
	return nil
}

func protectErr(path string, err error) error {
	return &wire.Error{Kind: kindOf(err), Path: path,
		Msg: fmt.Sprintf("target protection could not keep a copy in %s (%v), so this copy was not replaced or deleted; free space there, or turn protection off with `peerlink session set NAME --target-protection=false`", ProtectedDir, err)}
}

func kindOf(err error) wire.ErrKind {
	return wire.ToError("", "", "", err).Kind
}

func (p *protection) copy(path, dst string) error {
	info, err := p.t.Lstat(path)
	if err != nil {
		return err
	}
	src, err := p.t.OpenRead(path)
	if err != nil {
		return err
	}
	defer src.Close()
	w, err := p.t.Create(dst)
	if err != nil {
		return err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, h), src)
	if err != nil {
		w.Abort()
		return err
	}
	e := info.Entry(dst)
	e.Size = n
	h.Sum(e.Hash[:0])
	return w.Commit(e, nil)
}

// prune deletes protected copies older than the retention. It runs at
// attach and then daily while the session is attached.
func (p *protection) prune(ctx context.Context) (int, error) {
	if p == nil {
		return 0, nil
	}
	d, err := p.t.OpenDir(ProtectedDir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	ents, err := d.Entries()
	d.Close()
	if err != nil {
		return 0, err
	}
	cutoff := p.cutoff()
	removed := 0
	for _, e := range ents {
		if ctx.Err() != nil {
			return removed, ctx.Err()
		}
		stamp, _, _ := strings.Cut(e.Name, ".")
		t, err := time.Parse(stampLayout, stamp)
		if err != nil || !t.Before(cutoff) {
			continue // not ours, or still kept
		}
		if err := p.t.Remove(ProtectedDir + "/" + e.Name); err != nil {
			return removed, err
		}
		removed++
	}
	return removed, nil
}

// cutoff is the stamp time before which protected copies are removed. A
// retention beyond what a time.Duration holds (106,751 days) keeps every
// copy: multiplied out it would wrap around and put the cutoff in the
// future, removing them all. The hub and the Attach bound it far lower;
// this is the last line.
func (p *protection) cutoff() time.Time {
	const maxDays = math.MaxInt64 / int64(24*time.Hour)
	if int64(p.days) > maxDays {
		return time.Time{}
	}
	return p.now().Add(-time.Duration(p.days) * 24 * time.Hour)
}
