package tree

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/peerlink/peerlink/wire"
)

// symlinkError explains err, the failure of an operation on the path p (a
// folder if isDir), when a folder on the way to p (or p itself) is a symlink: a user replaced
// a folder of the watch set with one. The kernel then says "invalid
// cross-device link" (openat2's EXDEV) and os.Root "path escapes from
// parent", which tell an administrator nothing. Any other err is returned
// as it is. The cause stays reachable with errors.Is.
func (t *Tree) symlinkError(p string, isDir bool, err error) error {
	if err == nil || errors.Is(err, fs.ErrNotExist) || p == "" {
		return err
	}
	link, target, ok := t.symlinkOnTheWay(p)
	if !ok {
		return err
	}
	what := "a folder"
	if link == p && !isDir {
		what = "a file or folder"
	}
	return &guidedError{cause: err, we: &wire.Error{Kind: wire.KindInvalid,
		Msg: fmt.Sprintf("%s is a symlink (to %s) where the session has %s: peerlink follows no symlink out of a root and writes nothing through one; put the %s back in its place, or keep the path out of the session with --exclude /%s",
			link, target, what, strings.TrimPrefix(what, "a "), link)}}
}

// symlinkOnTheWay returns the first element of p, from the root down,
// that is a symlink, and what it points to.
func (t *Tree) symlinkOnTheWay(p string) (link, target string, ok bool) {
	for end := 0; end < len(p); {
		i := strings.IndexByte(p[end+1:], '/')
		if i < 0 {
			end = len(p)
		} else {
			end += 1 + i
		}
		q := p[:end]
		fi, err := t.root.Lstat(q)
		if err != nil {
			return "", "", false
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, err := t.root.Readlink(q)
			if err != nil {
				target = "?"
			}
			return q, target, true
		}
		if !fi.IsDir() {
			return "", "", false
		}
	}
	return "", "", false
}
