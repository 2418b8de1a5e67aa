package hub

import (
	"strings"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/web/api"
)

// appendEvent records an event in a session's log and tells the live feed.
func (h *Hub) appendEvent(session string, evs ...store.Event) error {
	_, err := h.db.AppendEvents(session, evs...)
	if err == nil {
		h.notify(api.NoticeEvents, session)
	}
	return err
}

// audit records who did what to a session; a failure to record is logged,
// not returned, because the action itself has happened.
func (h *Hub) audit(session, kind, user, msg string) {
	if err := h.appendEvent(session, store.Event{Kind: kind, User: user, Msg: msg}); err != nil {
		h.log.Error().Err(err).Str("session", session).Str("event", kind).Msg("record event")
	}
}

// Events returns a page of a session's event log, newest first, filtered
// by kind and text as q says.
func (h *Hub) Events(name string, q api.EventQuery) ([]api.Event, error) {
	if _, err := h.config(name); err != nil {
		return nil, err
	}
	if r := h.run(name); r != nil {
		r.events.flush() // what the run has recorded so far is in the answer
	}
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = api.DefaultEvents
	case limit > api.MaxEvents:
		limit = api.MaxEvents
	}
	text := strings.ToLower(q.Q)
	match := func(e *store.Event) bool {
		if q.Kind != "" && e.Kind != q.Kind {
			return false
		}
		if text == "" {
			return true
		}
		for _, f := range []string{e.Path, e.Msg, e.Host, e.User} {
			if strings.Contains(strings.ToLower(f), text) {
				return true
			}
		}
		return false
	}
	evs, err := h.db.FindEvents(name, q.Before, limit, match)
	if err != nil {
		return nil, err
	}
	out := make([]api.Event, len(evs))
	for i, e := range evs {
		out[i] = api.Event(e)
	}
	return out, nil
}
