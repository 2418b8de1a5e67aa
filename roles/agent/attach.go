package agent

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/sync/filter"
	"github.com/peerlink/peerlink/sync/tree"
	"github.com/peerlink/peerlink/wire"
)

// Attaching and detaching a session's root: the checks, the watch set
// it makes, and its end.

// checkRoot says whether root would do as a session's root here, as
// attach would judge it, without attaching anything.
func (a *Agent) checkRoot(root string) error {
	t, err := a.openRoot(root)
	if err != nil {
		return err
	}
	return t.Close()
}

// openRoot opens root for a session, if it may be one here: an absolute
// path to a folder the agent can write, outside its own data. Its errors
// name this host.
func (a *Agent) openRoot(root string) (*tree.Tree, error) {
	if !filepath.IsAbs(root) {
		return nil, &wire.Error{Kind: wire.KindInvalid, Path: root, Msg: fmt.Sprintf("root %q is not an absolute path: give the full path in --host %s=/path", root, a.cfg.Name)}
	}
	if err := a.checkOwnData(root); err != nil {
		return nil, err
	}
	t, err := tree.OpenFor(root, a.cfg.Name)
	if err != nil {
		return nil, err
	}
	if err := t.CheckWritable(); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// attach checks and opens a session's root. The same session may attach
// again (a hub restart); two sessions may not claim overlapping roots.
// It returns what identifies the root (rootid.go), for the hub to judge.
func (a *Agent) attach(c *broker.Client, m *wire.Attach) (wire.RootIdentity, error) {
	id, err := a.attachRoot(c, m)
	if err != nil {
		return id, err
	}
	a.log.Info().Str("session", m.Session).Str("root", m.Root).Str("root_id", id.ID).Bool("marked", id.Created).Msg("attached")
	return id, nil
}

func (a *Agent) attachRoot(c *broker.Client, m *wire.Attach) (wire.RootIdentity, error) {
	var id wire.RootIdentity
	t, err := a.openRoot(m.Root)
	if err != nil {
		return id, err
	}
	f, err := filter.New(append(slices.Clone(filter.Default), m.Exclude...))
	if err != nil {
		t.Close()
		return id, &wire.Error{Kind: wire.KindInvalid, Msg: err.Error()}
	}
	real, err := filepath.EvalSymlinks(m.Root)
	if err != nil {
		t.Close()
		return id, err
	}
	// Checked before the marker is written (rootid.go): a root inside
	// another session's gets none. Checked again below, under the same
	// lock as the attachment, for a concurrent attach.
	a.mu.Lock()
	err = a.overlapping(m, real)
	a.mu.Unlock()
	if err == nil {
		id, err = rootIdentity(m.Root, f, m)
	}
	if err != nil {
		t.Close()
		return id, err
	}
	a.noteGrace(m.Session, m.LockGraceMs)
	s := &attached{name: m.Session, root: m.Root, real: real, tree: t, filter: f, hosts: map[string]bool{},
		protect: newProtection(t, m.ProtectDays)}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for _, h := range m.Hosts {
		s.hosts[h] = true
	}
	a.mu.Lock()
	if err := a.overlapping(m, real); err != nil {
		a.mu.Unlock()
		s.cancel()
		t.Close()
		return id, err
	}
	old := a.sessions[m.Session]
	delete(a.sessions, m.Session)
	a.mu.Unlock()
	if old != nil {
		// A new attempt of the session (the hub starts over after losing a
		// host): what the last attempt left running, its watcher and
		// locker included, ends before this one starts. Outside a.mu,
		// which that work takes to finish.
		old.close()
	}
	// Locks left on another root of the session (its root changed while
	// they were held) are undone there; this root's Locker undoes its own.
	if _, err := a.undoLocks(m.Session, m.Root, nil); err != nil {
		a.log.Error().Err(err).Str("session", m.Session).Msg("undo the locks left on the session's former root")
	}
	lv, err := a.startLive(s.ctx, c, s)
	if err != nil {
		a.log.Error().Err(err).Str("session", m.Session).
			Msg("cannot watch the root: changes made while the session runs are seen at its next start only")
	}
	s.live = lv
	if lv != nil {
		// No fetched file replaces one open for writing here (live.go).
		t.GuardReplace(lv.guardReplace)
	}
	s.attachedAt = time.Now()
	a.startJournal(s)
	a.mu.Lock()
	a.sessions[m.Session] = s
	s.startPruning(a)
	a.mu.Unlock()
	return id, nil
}

// overlapping refuses a root that overlaps another session's here; the
// caller holds a.mu.
func (a *Agent) overlapping(m *wire.Attach, real string) error {
	for name, o := range a.sessions {
		if name != m.Session && overlaps(o.real, real) {
			return &wire.Error{Kind: wire.KindInvalid, Path: m.Root,
				Msg: fmt.Sprintf("root %s overlaps root %s of session %s on this host: a folder can belong to one session only", m.Root, o.root, name)}
		}
	}
	return nil
}

// startPruning drops expired protected copies now and daily after.
func (s *attached) startPruning(a *Agent) {
	if s.protect == nil {
		s.stop = func() {}
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	s.stop = func() { cancel(); <-done }
	go func() {
		defer close(done)
		for {
			n, err := s.protect.prune(ctx)
			if err != nil && ctx.Err() == nil {
				a.log.Warn().Err(err).Str("session", s.name).Msg("prune protected copies")
			} else if n > 0 {
				a.log.Info().Int("removed", n).Str("session", s.name).Msg("expired protected copies removed")
			}
			select {
			case <-time.After(24 * time.Hour):
			case <-ctx.Done():
				return
			}
		}
	}()
}

// close ends the attachment's scans and applies, waits for them, and
// releases the root. The caller must not hold a.mu.
func (s *attached) close() {
	s.cancel()
	s.work.Wait()
	if s.live != nil {
		s.live.stop()
	}
	if s.stop != nil {
		s.stop()
	}
	s.tree.Close()
}

func overlaps(a, b string) bool {
	within := func(x, y string) bool { return x == y || strings.HasPrefix(x, y+string(filepath.Separator)) }
	return within(a, b) || within(b, a)
}

func (a *Agent) detach(name string) {
	a.mu.Lock()
	s := a.sessions[name]
	delete(a.sessions, name)
	a.mu.Unlock()
	if s != nil {
		s.close()
		a.log.Info().Str("session", name).Msg("detached")
	}
}

// detachEnded ends this host's part in a session whose run ended (the
// hub's Detach): it detaches it and undoes every lock journaled for it,
// on whatever root, attached or not.
func (a *Agent) detachEnded(name string) error {
	a.detach(name)
	a.stopJournal(name)
	n, err := a.undoLocks(name, "", nil)
	if n > 0 {
		a.log.Info().Str("session", name).Int("locks", n).Msg("undid the locks of a session that ended")
	}
	if err != nil {
		a.log.Error().Err(err).Str("session", name).Msg("undo the locks of a session that ended")
	}
	return err
}

// detachAll ends every attachment and keeps their locks: the broker was
// lost (or the agent stops), and the hub has not said the sessions ended.
func (a *Agent) detachAll() {
	a.mu.Lock()
	all := a.sessions
	a.sessions = map[string]*attached{}
	a.mu.Unlock()
	for _, s := range all {
		s.close()
	}
}
