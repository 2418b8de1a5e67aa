//go:build linux

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/peerlink/peerlink/sync/filter"
)

// session is the one session every schedule runs.
const session = "chaos"

// runner carries out a schedule on a cluster and records what it did.
type runner struct {
	c    *cluster
	plan Plan
	hist History
	// held are the files a step opened for writing and the Office lock
	// files a step made, by handle, until a close step ends them.
	held   map[int]*os.File
	office map[int]*os.File
	// log is one line per step carried out, with its outcome.
	log   []string
	notes []string
}

// do carries out step i; a failure of the step itself is an outcome
// (a write refused by a lock), not an error of the harness.
func (r *runner) do(ctx context.Context, i int, s Step) {
	err := r.apply(ctx, i, s)
	line := fmt.Sprintf("%3d %s", i, s)
	if err != nil {
		line += "  [" + err.Error() + "]"
	}
	r.log = append(r.log, line)
}

func (r *runner) apply(ctx context.Context, i int, s Step) error {
	root := ""
	if s.Host != "" {
		root = r.c.root(s.Host)
	}
	p := filepath.Join(root, filepath.FromSlash(s.Path))
	switch s.Kind {
	case Write:
		return r.write(i, s, p, false)
	case Save:
		return r.write(i, s, p, true)
	case Truncate:
		return r.truncate(i, s, p)
	case Delete:
		if _, err := os.Lstat(p); err != nil {
			return errSkipped
		}
		r.hist.Touch(i, s.Host, s.Path)
		return os.RemoveAll(p)
	case Mkdir:
		r.hist.Touch(i, s.Host, s.Path)
		return os.MkdirAll(p, 0o755)
	case Rename:
		return r.rename(i, s, p, filepath.Join(root, filepath.FromSlash(s.To)))
	case Chmod:
		return os.Chmod(p, fs.FileMode(s.Mode))
	case Open, Office:
		return r.open(i, s, p)
	case Close, Unoffice:
		return r.close(i, s, p)
	case EmptyRoot:
		r.hist.Empty(i, s.Host)
		return emptyDir(root)
	case Pause:
		time.Sleep(time.Duration(s.Millis) * time.Millisecond)
		return nil
	}
	return r.fault(ctx, s)
}

var errSkipped = errors.New("skipped: nothing there")

// content is the deterministic content of step i: a header naming it, so
// every version differs, then pseudo-random bytes.
func content(seed uint64, i, size int) io.Reader {
	head := fmt.Sprintf("seed %d step %d\n", seed, i)
	rest := max(size-len(head), 0)
	return io.MultiReader(io.LimitReader(strings.NewReader(head), int64(size)),
		io.LimitReader(rand.NewChaCha8(seedBytes(seed, i)), int64(rest)))
}

func seedBytes(seed uint64, i int) (b [32]byte) {
	for k := 0; k < 8; k++ {
		b[k] = byte(seed >> (8 * k))
		b[8+k] = byte(uint64(i) >> (8 * k))
	}
	return b
}

// writeFile writes the content of step i to p through a new or truncated
// file and returns its hash.
func writeFile(p string, seed uint64, i, size int, flag int) (string, error) {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|flag, 0o644)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), content(seed, i, size))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return hex.EncodeToString(h.Sum(nil)), err
}

// write writes the file in place, or, as editors save, through a temp
// file renamed over it (a GIO name, which every session excludes).
func (r *runner) write(i int, s Step, p string, viaTemp bool) error {
	r.hist.Touch(i, s.Host, s.Path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	dst := p
	if viaTemp {
		dst = filepath.Join(filepath.Dir(p), fmt.Sprintf(".goutputstream-%d", i))
	}
	sum, err := writeFile(dst, r.plan.Seed, i, s.Size, os.O_TRUNC)
	if err == nil && viaTemp {
		err = os.Rename(dst, p)
	}
	if err != nil {
		if viaTemp {
			os.Remove(dst)
		}
		return err
	}
	r.hist.Version(i, s.Host, s.Path, sum)
	return nil
}

func (r *runner) truncate(i int, s Step, p string) error {
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errSkipped
		}
		r.hist.Touch(i, s.Host, s.Path)
		return err
	}
	defer f.Close()
	r.hist.Touch(i, s.Host, s.Path)
	if err := f.Truncate(int64(s.Size)); err != nil {
		return err
	}
	sum, err := hashFrom(f)
	if err != nil {
		return err
	}
	r.hist.Version(i, s.Host, s.Path, sum)
	return nil
}

// hashFrom hashes f's content from its start, through its descriptor, so
// what it hashes is what the step wrote even if the path changed since.
func hashFrom(f *os.File) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, 1<<62)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return hashFrom(f)
}

// rename moves a file or a folder; the contents it moved are versions at
// their new paths.
func (r *runner) rename(i int, s Step, from, to string) error {
	if _, err := os.Lstat(from); err != nil {
		return errSkipped
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	if err := os.Rename(from, to); err != nil {
		return err // a rename is done whole or not at all
	}
	r.hist.Touch(i, s.Host, s.Path)
	r.hist.Touch(i, s.Host, s.To)
	r.hist.Moved(i, s.Host, s.Path, s.To)
	root := r.c.root(s.Host)
	return filepath.WalkDir(to, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		switch {
		case err != nil:
			return nil // what vanished meanwhile is not the step's
		case excluded.Excluded(rel, d.IsDir()):
			// A transfer's temp file, an owner file: not a user's
			// version, nothing the session takes.
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		case d.IsDir():
			return nil
		}
		if sum, err := hashFile(p); err == nil {
			r.hist.Version(i, s.Host, rel, sum)
		}
		return nil
	})
}

// excluded is what every session leaves alone (sync/filter's Default).
var excluded = mustFilter(filter.Default)

func mustFilter(patterns []string) *filter.Filter {
	f, err := filter.New(patterns)
	if err != nil {
		panic(err)
	}
	return f
}

// whereNow finds the path of host's root at which the file fi is now:
// a held file follows the renames of its folders, the harness's and those
// the host's agent applied. "" when it is nowhere under the root.
func whereNow(root string, fi os.FileInfo) string {
	found := ""
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || found != "" {
			return fs.SkipDir
		}
		if d.Type().IsRegular() {
			if now, err := os.Lstat(p); err == nil && os.SameFile(fi, now) {
				rel, _ := filepath.Rel(root, p)
				found = filepath.ToSlash(rel)
				return fs.SkipAll
			}
		}
		return nil
	})
	return found
}

// open holds a file open for writing (an application keeping a document
// open), or makes an Office owner file beside a document.
func (r *runner) open(i int, s Step, p string) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if s.Kind == Office {
		lock := filepath.Join(filepath.Dir(p), "~$"+filepath.Base(p))
		// Kept open (Office does not, but the harness must find it again):
		// the open file pins its inode, so no later file can take its
		// number and be taken for it.
		f, err := os.OpenFile(lock, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		r.office[s.Handle] = f
		_, err = f.WriteString("chaos harness\n")
		return err
	}
	r.hist.Touch(i, s.Host, s.Path)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	r.held[s.Handle] = f
	_, err = io.Copy(f, content(r.plan.Seed, i, 100))
	return err
}

// close ends a held handle: more bytes and a close for an open file (its
// content then a version, if the path still names it), a save and the
// owner file's removal for an Office document.
func (r *runner) close(i int, s Step, p string) error {
	if s.Kind == Unoffice {
		err := r.write(i, Step{Kind: Save, Host: s.Host, Path: s.Path, Size: s.Size}, p, true)
		// The owner file goes where it is now: a folder above it may
		// have been renamed meanwhile.
		if f, ok := r.office[s.Handle]; ok {
			delete(r.office, s.Handle)
			defer f.Close()
			fi, serr := f.Stat()
			if serr != nil {
				return errors.Join(err, serr)
			}
			if at := whereNow(r.c.root(s.Host), fi); at != "" {
				if rerr := os.Remove(filepath.Join(r.c.root(s.Host), filepath.FromSlash(at))); err == nil {
					err = rerr
				}
			}
		}
		return err
	}
	f, ok := r.held[s.Handle]
	if !ok {
		return errSkipped
	}
	delete(r.held, s.Handle)
	r.hist.Touch(i, s.Host, s.Path)
	_, err := io.Copy(f, content(r.plan.Seed, i, s.Size))
	sum, herr := hashFrom(f)
	fi, serr := f.Stat()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && herr == nil && serr == nil {
		if at := whereNow(r.c.root(s.Host), fi); at != "" {
			r.hist.Touch(i, s.Host, at)
			r.hist.Version(i, s.Host, at, sum)
		}
	}
	return errors.Join(err, herr, serr)
}

// emptyDir removes everything under dir, as a share that turns up empty.
func emptyDir(dir string) error {
	unlockAll(dir)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, e := range ents {
		errs = append(errs, os.RemoveAll(filepath.Join(dir, e.Name())))
	}
	return errors.Join(errs...)
}

// fault breaks or mends a process, a link or the session.
func (r *runner) fault(ctx context.Context, s Step) error {
	c := r.c
	switch s.Kind {
	case KillAgent:
		c.agents[s.Host].kill()
	case StartAgent:
		return c.startAgent(s.Host)
	case KillHub:
		c.hub.kill()
	case StartHub:
		return c.startHub(ctx)
	case CutLink:
		c.links[s.Host].Cut()
	case RestoreLink:
		return c.links[s.Host].Restore()
	case StopSession:
		_, err := c.client().Stop(ctx, session)
		return err
	case StartSession:
		_, err := c.client().Start(ctx, session)
		return err
	default:
		return fmt.Errorf("unknown step kind %q", s.Kind)
	}
	return nil
}
