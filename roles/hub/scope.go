package hub

import (
	"context"
	"fmt"
	"slices"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/sync/filter"
	"github.com/peerlink/peerlink/wire"
)

// A session's live messages may only be about paths its agents watch: the
// default filter plus the session's --exclude patterns, which the hub
// sends each agent when it attaches it (wire.Attach). An agent's watcher
// never reports an excluded path, so such a message is a broken or hostile
// agent's, and acting on it would lock, create, rename or change files on
// the other hosts that the session leaves alone: a rename into an excluded
// name moves a synchronised file out of the session everywhere, a mkdir
// below ".peerlink" writes into the protected area. The hub refuses it and
// logs it; the changes of a batch that are inside the watch set still go.

// sessionFilter compiles what the agents of a session with exclude filter.
// The patterns were checked when the session was defined; should they not
// compile now, nothing is excluded, as an agent would refuse the attachment.
func sessionFilter(exclude []string, log zerolog.Logger) *filter.Filter {
	f, err := filter.New(append(slices.Clone(filter.Default), exclude...))
	if err != nil {
		log.Error().Err(err).Msg("session exclude patterns")
		return nil
	}
	return f
}

// outside reports whether a change names a path the session excludes.
func (r *run) outside(ch wire.Change) bool {
	dir := ch.Kind == wire.ChangeMkdir || ch.Entry.Kind == wire.KindDir
	if r.filter.Excluded(ch.Path, dir) {
		return true
	}
	return ch.Kind == wire.ChangeRename && r.filter.Excluded(ch.OldPath, dir)
}

// inScope returns in with what it says about paths outside the session
// dropped, and false when nothing is left: a write-open or a close of an
// excluded path is refused (KindInvalid), a batch of changes loses the
// excluded ones. Each refusal is logged with the sender and the path.
func (r *run) inScope(ctx context.Context, c *broker.Client, in broker.Incoming) (broker.Incoming, bool) {
	refused := func(path, old string) {
		ev := r.log.Warn().Str("from", in.From).Str("type", string(in.Type)).Str("path", path)
		if old != "" {
			ev = ev.Str("old_path", old)
		}
		ev.Msg("live message about a path outside the session refused")
	}
	var path string
	switch m := in.Msg.(type) {
	case *wire.Opened:
		path = m.Path
	case *wire.Closed:
		path = m.Path
	case *wire.Changes:
		kept := make([]wire.Change, 0, len(m.Changes))
		for _, ch := range m.Changes {
			if r.outside(ch) {
				refused(ch.Path, ch.OldPath)
				continue
			}
			kept = append(kept, ch)
		}
		if len(kept) == 0 {
			return in, false
		}
		if len(kept) < len(m.Changes) {
			// Without their content: the data held the refused ones' too.
			for i := range kept {
				kept[i].Inline = nil
			}
			in.Msg, in.Data = &wire.Changes{Session: m.Session, Changes: kept}, nil
		}
		return in, true
	default:
		return in, true
	}
	if !r.filter.Excluded(path, false) {
		return in, true
	}
	refused(path, "")
	r.refuse(ctx, c, in, &wire.Error{Kind: wire.KindInvalid, Path: path,
		Msg: fmt.Sprintf("%s is outside session %s: its filter excludes it", path, r.cfg.Name)})
	return in, false
}
