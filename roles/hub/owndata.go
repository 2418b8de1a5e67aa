package hub

import (
	"fmt"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/peerlink/peerlink/web/api"
)

// ownData is the hub's data folder (hub.db and the token), in the forms a
// root is compared with: absolute and clean, and with its symlinks
// resolved.
type ownData struct {
	abs, real string
}

func newOwnData(dir string) ownData {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = filepath.Clean(dir)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		real = abs
	}
	return ownData{abs: filepath.ToSlash(abs), real: filepath.ToSlash(real)}
}

// checkOwnData refuses a root that is, holds or lies inside the hub's data
// folder: a session would copy the hub's token to other hosts, and write
// over it what they hold.
//
// The hub cannot tell which hosts share its machine, so it compares paths,
// for every host: the root as given, and as its symlinks resolve on the
// hub's machine. A root on another machine that happens to have such a
// path is refused too (move the hub's --data out of the way there); a bind
// mount or a container's view of the hub's data folder is not seen. The
// agent refuses its own data folder itself, by file identity.
func (h *Hub) checkOwnData(i int, host, root string) error {
	if !strings.HasPrefix(root, "/") {
		return nil // a Windows host: not the hub's own file system
	}
	for _, r := range []string{path.Clean(root), resolveExisting(root)} {
		for _, d := range []string{h.data.abs, h.data.real} {
			var how string
			switch {
			case r == d:
				how = "is"
			case within(r, d):
				how = "lies inside"
			case within(d, r):
				how = "holds"
			default:
				continue
			}
			return &api.FieldError{Field: "hosts[" + strconv.Itoa(i) + "].root", Flag: "--host",
				Msg: fmt.Sprintf("root %s of %s %s the hub's data folder %s (hub.db, token): no root may hold peerlink's own state; choose another root (if %s is another machine with that path, run the hub with its --data elsewhere)",
					root, host, how, h.data.abs, host)}
		}
	}
	return nil
}

// resolveExisting resolves the symlinks of the longest part of p that
// exists on this machine, and appends the rest as it is.
func resolveExisting(p string) string {
	p = filepath.Clean(filepath.FromSlash(p))
	rest := ""
	for {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.ToSlash(filepath.Join(real, rest))
		}
		up := filepath.Dir(p)
		if up == p {
			return filepath.ToSlash(filepath.Join(p, rest))
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = up
	}
}
