package hub

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// A host that returns with a different root (issue 14): a replaced disk,
// a share mounted elsewhere, another folder renamed into place. Merged as
// a host back from being away, its files would spread as offline changes
// and, with offline delete detection, its missing files as deletions. So
// the hub records, per session and host, what identified the root when
// its scan was first merged (the agent's marker id, the file system and
// the folder: wire/rootid.go, roles/agent/rootid.go), and compares it at
// every attach: a start-up's, a catch-up's, a hub restart's. A root that
// is not the one recorded is refused: the host is kept away (detached),
// with a message in its status, the console and the event log saying
// what to do; nothing is merged from it, so nothing is deleted or spread
// anywhere, and the other hosts go on. `peerlink session reset-root`
// takes it as a new host: its next merge is a first start's (no last
// index: every copy is new, nothing counts as deleted).
//
// What a missing marker means: a root with nothing the session takes is
// the mass-delete breaker's case (an unmounted share, a root emptied by
// hand), accepted, the agent writing the recorded id back into it, and so
// is the very folder recorded (same file system and inode: emptied by
// hand, marker and all, then written to); a root with files and no
// marker in another folder, on a host whose id is recorded, was replaced.
// The same id in another folder (another inode or file system) is a copy,
// a restore from a backup say, whose files may be older than what the
// session holds: refused too. A root moved within its file system keeps
// its inode, so `session set --host H=/new/path` after a `mv` is accepted.

// rootVerdict is the hub's judgement of a root as a host attached it.
type rootVerdict int

const (
	rootSame     rootVerdict = iota // the root recorded, or an agent that cannot tell
	rootNew                         // nothing recorded (or reset): recorded at the merge
	rootEmpty                       // the recorded id written back into an empty root
	rootRemarked                    // the recorded id written back into the folder recorded
	rootOther                       // another marker
	rootUnmarked                    // files, no marker
	rootCopy                        // the marker, in another folder
)

// judgeRoot compares what an agent found (nil: an older agent) with what
// was recorded (ok false: nothing).
func judgeRoot(rec store.RootRecord, ok bool, got *wire.RootIdentity) rootVerdict {
	switch {
	case got == nil:
		return rootSame
	case !ok || rec.Fresh || rec.Root.ID == "":
		return rootNew
	case got.ID == "":
		return rootUnmarked
	case got.ID != rec.Root.ID:
		return rootOther
	case got.Created && got.Empty:
		return rootEmpty
	case got.Created && !sameFolder(rec.Root, *got):
		// An agent writes the id back into a root with files only in
		// the folder recorded; one that did otherwise is not trusted.
		return rootUnmarked
	case got.Created:
		return rootRemarked
	case rec.Root.FS != 0 && got.FS != 0 && !sameFolder(rec.Root, *got):
		return rootCopy
	}
	return rootSame
}

// sameFolder says whether a and b name the same folder of the same file
// system.
func sameFolder(a, b wire.RootIdentity) bool {
	return a.FS != 0 && a.FS == b.FS && a.Inode == b.Inode
}

// refused says whether v keeps the host away.
func (v rootVerdict) refused() bool { return v >= rootOther }

// rootError is a root refused: the host stays away until an operator
// acts, so it is not retried.
type rootError struct {
	host, path, msg string
}

func (e *rootError) Error() string { return e.msg }

// refusal returns the message for a root refused as v.
func refusal(session, host, path string, rec store.RootRecord, got wire.RootIdentity, v rootVerdict) *rootError {
	why := ""
	switch v {
	case rootUnmarked:
		why = fmt.Sprintf("it holds files but no marker %s, which the session's root has held since %s", ".peerlink/root-id", rec.Recorded.Local().Format(time.DateTime))
	case rootOther:
		why = fmt.Sprintf("its id %s differs from %s, recorded on %s", got.ID, rec.Root.ID, rec.Recorded.Local().Format(time.DateTime))
	case rootCopy:
		why = fmt.Sprintf("it carries the session's id %s but is another folder (file system %x, inode %d; recorded %x, %d): a copy or a restore, whose files may be older than the session's",
			got.ID, got.FS, got.Inode, rec.Root.FS, rec.Root.Inode)
	}
	return &rootError{host: host, path: path, msg: fmt.Sprintf(
		"%s's root %s is not the folder the session synchronised (%s): nothing was merged from it and nothing deleted anywhere; "+
			"if the disk was replaced or moved on purpose, run `peerlink session reset-root %s --host %s` to take it as a new host "+
			"(it is then merged as at a first start, nothing deleted elsewhere); otherwise put the session's folder back at %s and restart its agent",
		host, path, why, session, host, path)}
}

// attachHost attaches host with root, and judges the root it attached:
// a root refused is detached again, and its error is a *rootError. It
// returns the identity to record at the host's merge (nil: none to
// record) and whether the host is to be merged as new.
func (r *run) attachHost(ctx context.Context, c *broker.Client, host, root string) (record *wire.RootIdentity, fresh bool, err error) {
	rec, ok, err := r.h.db.RootRecord(r.cfg.Name, host)
	if err != nil {
		return nil, false, err
	}
	m := &wire.Attach{Session: r.cfg.Name, Root: root, Exclude: r.cfg.Exclude, Hosts: r.hostNames()}
	if !rec.Fresh {
		m.RootID, m.RootFS, m.RootInode = rec.Root.ID, rec.Root.FS, rec.Root.Inode
	}
	if r.cfg.TargetProtection == nil || *r.cfg.TargetProtection {
		m.ProtectDays = max(r.cfg.ProtectDays, 1)
	}
	grace := r.grace().Milliseconds()
	m.LockGraceMs = &grace
	in, err := c.Request(ctx, host, m, nil)
	if err != nil {
		return nil, false, wire.ToError("attach", host, "", err)
	}
	var got *wire.RootIdentity
	if a, ok := in.Msg.(*wire.Attached); ok {
		got = &a.Root
	}
	switch v := judgeRoot(rec, ok, got); {
	case v.refused():
		// Attached on the agent, which must not keep watching, locking
		// or serving it for the session.
		if _, err := c.Request(ctx, host, &wire.Detach{Session: r.cfg.Name}, nil); err != nil {
			r.log.Debug().Err(err).Str("host", host).Msg("detach a root refused")
		}
		return nil, false, refusal(r.cfg.Name, host, root, rec, *got, v)
	case v == rootNew:
		return got, rec.Fresh, nil
	case v == rootEmpty:
		r.log.Warn().Str("host", host).Str("root", root).Msg("root empty and unmarked: its marker written back; the breaker judges its deletions")
	case v == rootRemarked:
		r.log.Warn().Str("host", host).Str("root", root).Msg("root unmarked but the folder recorded: its marker written back; the breaker judges its deletions")
	}
	return nil, false, nil
}

// noteRootRefused shows a refused root in the host's status and the
// event log.
func (r *run) noteRootRefused(host string, err error) {
	var re *rootError
	if !errors.As(err, &re) {
		return
	}
	r.log.Error().Str("host", host).Str("root", re.path).Msg(re.msg)
	r.event("root-refused", host, "", re.msg)
	r.setHostError(host, err)
}

// recordRoot records the identity of host's root, now merged.
func (r *run) recordRoot(host string, id *wire.RootIdentity) {
	if id == nil {
		return
	}
	path := ""
	for _, hr := range r.cfg.Hosts {
		if hr.Host == host {
			path = hr.Root
		}
	}
	rec := store.RootRecord{Root: *id, Path: path, Recorded: time.Now()}
	rec.Root.Created, rec.Root.Empty = false, false
	if err := r.h.db.PutRootRecord(r.cfg.Name, host, rec); err != nil {
		r.log.Error().Err(err).Str("host", host).Msg("record the root's identity: it is recorded at the next merge")
	}
}

// ResetRoot takes the root host has now as a new host's (`peerlink
// session reset-root`): its next merge is a first start's. A running
// session catches it up at once.
func (h *Hub) ResetRoot(name string, req api.ResetRootRequest, user string) (api.Session, error) {
	host := req.Host
	cfg, err := h.config(name)
	if err != nil {
		return api.Session{}, err
	}
	if host == "" {
		return api.Session{}, invalid("name the host whose root to take as new with --host (its hosts: %s)", hostList(cfg))
	}
	root := ""
	for _, hr := range cfg.Hosts {
		if hr.Host == host {
			root = hr.Root
		}
	}
	if root == "" {
		return api.Session{}, invalid("--host %s is not a host of session %s (its hosts: %s)", host, name, hostList(cfg))
	}
	if err := h.db.PutRootRecord(name, host, store.RootRecord{Path: root, Fresh: true, Recorded: time.Now()}); err != nil {
		return api.Session{}, err
	}
	msg := fmt.Sprintf("%s's root %s is taken as a new host's by %s: its next merge is a first start's (nothing deleted elsewhere)", host, root, user)
	if r := h.run(name); r != nil {
		r.event("root-reset", host, "", msg)
		r.mu.Lock()
		delete(r.rootRefused, host)
		r.reset[host] = true
		r.kickHosts()
		r.mu.Unlock()
	} else if _, err := h.db.AppendEvents(name, store.Event{Kind: "root-reset", Host: host, Msg: msg}); err != nil {
		h.log.Error().Err(err).Msg("event log")
	}
	return h.Session(name)
}
