//go:build linux && !watch_fsnotify

package watch

import (
	"strings"

	"golang.org/x/sys/unix"
)

// treeEvent is an event of the tree group placed relative to the root, as
// the loop takes it: a change of to, or a rename from from to to; or
// overflow; or err, the root gone.
type treeEvent struct {
	mask     uint64
	from, to treeLoc
	overflow bool
	err      error
}

// treeLoc is where an entry is: rel below the root if in ("" for the root
// itself); elsewhere, rel is its absolute path.
type treeLoc struct {
	rel string
	in  bool
}

// folderMove is a folder's rename, in absolute paths as they were then.
type folderMove struct{ from, to string }

// maxCached bounds the folder paths a watcher remembers (two generations
// of at most this many each): enough for the folders being worked in.
const maxCached = 1 << 14

// handleCache maps folder handles to their paths, as last seen. It keeps
// two generations: when the newer is full the older is dropped, so what
// is in use stays and the rest goes, without a list to maintain.
type handleCache struct{ cur, old map[string]string }

func (c *handleCache) get(key string) (string, bool) {
	if p, ok := c.cur[key]; ok {
		return p, true
	}
	p, ok := c.old[key]
	if ok {
		c.put(key, p)
	}
	return p, ok
}

func (c *handleCache) put(key, p string) {
	if c.cur == nil || len(c.cur) >= maxCached {
		c.old, c.cur = c.cur, make(map[string]string, 64)
	}
	c.cur[key] = p
}

func (c *handleCache) clear() { c.cur, c.old = nil, nil }

// place turns a batch of the group's events into treeEvents below the root
// real, leaving out what happens elsewhere on the file system.
//
// A folder's handle is turned into its path now (open_by_handle_at, then
// the descriptor's link in /proc), while its events happened earlier: a
// folder renamed since would put them at its new path. So the batch's
// folder renames are undone on each event's paths, latest first, as far
// as the renames after it in the batch go (a rename still in the kernel's
// queue behind this batch is not known yet). A folder that cannot be
// opened by its handle (removed since) is placed where an event of the
// batch put it (its own creation or removal, whose entry handle it is) or
// where it was last seen; events in a folder that cannot be placed at all
// are left out: that folder is gone, and its own removal or move is
// reported from its parent.
func (t *fanTree) place(recs []fanRec, real string) []treeEvent {
	for _, r := range recs {
		if r.mask&unix.FAN_Q_OVERFLOW != 0 || r.mask&(unix.FAN_RENAME|unix.FAN_ONDIR) == unix.FAN_RENAME|unix.FAN_ONDIR {
			// Every path remembered may be wrong from here on.
			t.paths.clear()
			break
		}
	}
	p := placer{t: t, now: map[string]string{}, at: map[string]fanRec{}}
	for _, r := range recs {
		if r.child != "" && r.mask&unix.FAN_ONDIR != 0 && r.mask&(unix.FAN_CREATE|unix.FAN_DELETE|unix.FAN_RENAME) != 0 {
			p.at[r.child] = r
		}
	}
	out := make([]treeEvent, len(recs))
	keep := make([]bool, len(recs))
	var moves []folderMove // later in the batch than the event placed, latest first
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		if r.mask&unix.FAN_Q_OVERFLOW != 0 {
			out[i], keep[i] = treeEvent{overflow: true}, true
			continue
		}
		to, ok := p.path(r.dir, r.name)
		if !ok {
			continue
		}
		to = undo(to, moves)
		ev := treeEvent{mask: r.mask, to: relTo(to, real)}
		if r.mask&unix.FAN_RENAME != 0 {
			from, ok := p.path(r.oldDir, r.oldName)
			if !ok {
				continue
			}
			from = undo(from, moves)
			ev.from = relTo(from, real)
			if r.mask&unix.FAN_ONDIR != 0 {
				moves = append(moves, folderMove{from: from, to: to})
			}
		}
		out[i], keep[i] = ev, ev.to.in || ev.from.in
	}
	n := 0
	for i := range out {
		if keep[i] {
			out[n] = out[i]
			n++
		}
	}
	return out[:n]
}

// undo returns path p as it was before the folder moves (latest first).
func undo(p string, moves []folderMove) string {
	for _, m := range moves {
		if under(p, m.to) {
			p = m.from + p[len(m.to):]
		}
	}
	return p
}

// relTo places the absolute path p relative to the root real.
func relTo(p, real string) treeLoc {
	if real == "/" {
		return treeLoc{rel: strings.TrimPrefix(p, "/"), in: p != "/"}
	}
	if len(p) > len(real) && p[len(real)] == '/' && strings.HasPrefix(p, real) {
		return treeLoc{rel: p[len(real)+1:], in: true}
	}
	if p == real {
		return treeLoc{in: true} // the root itself: rel ""
	}
	return treeLoc{rel: p}
}

// placer finds the paths of one batch's folders as they are now.
type placer struct {
	t   *fanTree
	now map[string]string // by handle, found in this batch ("" not found)
	at  map[string]fanRec // folders' own creations, removals and renames in the batch, by their handle
}

// path returns the absolute path of name in the folder dir; name "." is the
// folder itself (an event on a folder is reported so).
func (p *placer) path(dir, name string) (string, bool) {
	d := p.folder(dir, 0)
	if d == "" {
		return "", false
	}
	if name == "." || name == "" {
		return d, true
	}
	if d == "/" {
		return "/" + name, true
	}
	return d + "/" + name, true
}

// folder returns the folder key's path now, "" if it cannot be found.
func (p *placer) folder(key string, depth int) string {
	if d, ok := p.now[key]; ok {
		return d
	}
	d, ok := p.t.paths.get(key)
	if !ok {
		d = p.t.open(key)
		if d == "" && depth < 64 {
			// Removed since: where its creation or removal put it.
			if r, ok := p.at[key]; ok {
				if pd := p.folder(r.dir, depth+1); pd != "" {
					d = pd + "/" + r.name
				}
			}
		}
		if d != "" {
			p.t.paths.put(key, d)
		}
	}
	p.now[key] = d
	return d
}

// open finds the path of the folder key by opening it; "" if it cannot be
// opened (removed) or has no path any more.
func (t *fanTree) open(key string) string {
	if len(key) < 4 {
		return ""
	}
	fd, err := unix.OpenByHandleAt(t.mount, handleOf(key), unix.O_PATH|unix.O_CLOEXEC)
	if err != nil {
		return ""
	}
	defer unix.Close(fd)
	buf := make([]byte, unix.PathMax)
	n, err := unix.Readlink(procFd(fd), buf)
	if err != nil || n == 0 || buf[0] != '/' {
		return ""
	}
	d := string(buf[:n])
	if strings.HasSuffix(d, " (deleted)") {
		return ""
	}
	return d
}
