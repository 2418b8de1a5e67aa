package hub

import (
	"fmt"
	"time"

	"github.com/peerlink/peerlink/roles/broker/natslink"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// Revocation over NATS (issue 13, point 4: the same authentication of
// agents as the built-in broker). A NATS cluster admits an agent by an
// NKey derived from its name, which the hub cannot take back; so the hub
// records the revocation in hub.db, its NATS link refuses the agent at
// once (natslink.Revoked), and it lists the revoked agents in
// DATA/nats/revoked for `peerlink nats-config`, which leaves them out of
// the NATS users: reloaded with those, the servers cut the agent off.

// revokeNATSAgent revokes agent name of a hub whose broker is a NATS
// cluster.
func (h *Hub) revokeNATSAgent(name, user string) (api.AgentCredential, error) {
	if err := wire.CheckName("agent", name); err != nil || name == wire.HubName {
		return api.AgentCredential{}, fmt.Errorf("%w: %q is no agent's name", api.ErrInvalid, name)
	}
	c, err := h.db.RevokeAgentName(name, time.Now())
	if err != nil {
		return api.AgentCredential{}, err
	}
	if err := h.syncNATSRevoked(); err != nil {
		return api.AgentCredential{}, err
	}
	h.log.Warn().Str("host", name).Str("by", user).
		Msg("agent revoked: the hub refuses it on NATS now; run `peerlink nats-config` again and reload every NATS server to shut it out of the cluster")
	return api.AgentCredential{Name: c.Name, Serial: c.Serial, Issued: c.Issued, Revoked: c.Revoked}, nil
}

// syncNATSRevoked fills the NATS link's revoked set from hub.db and
// writes it for nats-config. The set is filled first: a crash between the
// two leaves the file behind hub.db, and the next start writes it again.
func (h *Hub) syncNATSRevoked() error {
	if h.cfg.NATSRevoked == nil {
		return nil
	}
	list, err := h.db.AgentCerts()
	if err != nil {
		return fmt.Errorf("revoked agents: %w", err)
	}
	var names []string
	for _, c := range list {
		if !c.Revoked.IsZero() {
			names = append(names, c.Name)
		}
	}
	h.cfg.NATSRevoked.Set(names)
	return natslink.WriteRevoked(h.cfg.DataDir, names)
}
