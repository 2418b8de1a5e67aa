package hub

import (
	"slices"

	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// warning lists an agent's warning about its part in a session (a watch
// limit reached, say) in the session's status, where `peerlink session
// status` shows it, and in its event log. Only a host of the session may
// warn about it; the same warning is listed once. A new start of the
// session clears the list, and the agent, attached anew, warns again if
// it still must.
func (h *Hub) warning(from string, m *wire.Warning) {
	r := h.run(m.Session)
	if r == nil {
		h.log.Debug().Str("session", m.Session).Str("from", from).Msg("warning about a session that is not running ignored")
		return
	}
	if !r.isHost(from) {
		r.log.Warn().Str("from", from).Msg("warning from a host outside the session refused")
		return
	}
	text := from + ": " + m.Msg
	added := false
	r.update(func(st *api.SessionStatus) {
		if !slices.Contains(st.Warnings, text) && len(st.Warnings) < maxErrors {
			st.Warnings = append(st.Warnings, text)
			added = true
		}
	})
	if !added {
		return
	}
	r.log.Warn().Str("host", from).Str("warning", m.Msg).Msg("agent warning")
	r.event("warning", from, "", m.Msg)
}
