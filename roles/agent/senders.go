package agent

import (
	"context"
	"fmt"
	"strings"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/wire"
)

// Who may ask what of an agent (DESIGN.md, "Who owns what"): only the hub
// commands it (attach, detach, scan, apply, lock, unlock, owners...), and
// another agent reads only what a transfer the hub ordered needs. Who sent
// a frame is the name the broker authenticated the sender under
// (broker.Incoming.From, which the broker writes over whatever the sender
// put there), never a field of the message; and no agent can register as
// the hub (wire.Hello.Validate, checked by the broker).
//
// A read is not also required to come while the session runs live: the
// initial transfers of a start fetch before it does, and the serving agent
// knows only its own attachment, which the hub's Attach made (naming the
// hosts of this attempt) and its Detach, or the loss of the broker, ends.
// Tying each read to one ordered transfer needs the hub's word per
// transfer, which per-agent credentials will bring.

// commander reports whether in comes from the one peer that may command
// this agent: the hub.
func commander(in broker.Incoming) bool { return in.From == wire.HubName }

// refuse answers a command from anyone but the hub with a Fail of kind
// permission that names the sender, and warns in the agent's log.
func (a *Agent) refuse(ctx context.Context, c *broker.Client, in broker.Incoming) {
	who := in.From
	if who == broker.FromBroker {
		who = "the broker"
	}
	a.log.Warn().Str("from", who).Str("type", string(in.Type)).Msg("command from a peer that is not the hub refused")
	if in.ID == 0 || in.From == broker.FromBroker {
		return // nobody to answer
	}
	a.fail(ctx, c, in, string(in.Type), "", &wire.Error{Kind: wire.KindPermission,
		Msg: fmt.Sprintf("sent by %s, not by the hub: an agent takes commands only from the hub", who)})
}

// mayRead returns nil if from may read paths of the attached session s: the
// hub may (a diff of two hosts' copies in the console); another agent only
// if it is a host of the session as the hub attached it. Either way, only
// paths the session takes: not excluded by its filter, not peerlink's own
// area at the root.
func (a *Agent) mayRead(s *attached, from string, paths ...string) error {
	if from != wire.HubName && (from == a.cfg.Name || !s.hosts[from]) {
		return &wire.Error{Kind: wire.KindPermission, Msg: fmt.Sprintf("%s is not a host of session %s", from, s.name)}
	}
	for _, p := range paths {
		if !s.takes(p) {
			return &wire.Error{Kind: wire.KindPermission, Path: p,
				Msg: fmt.Sprintf("%s asked for %s, which session %s does not take (excluded, or peerlink's own)", from, p, s.name)}
		}
	}
	return nil
}

// takes reports whether the session synchronises the file at p.
func (s *attached) takes(p string) bool {
	first, _, _ := strings.Cut(p, "/")
	return first != ".peerlink" && !s.filter.Excluded(p, false)
}
