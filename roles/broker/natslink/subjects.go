package natslink

import (
	"strings"

	"github.com/peerlink/peerlink/wire"
)

// Prefix starts every subject peerlink uses, so a NATS cluster can carry
// other traffic beside it.
const Prefix = "peerlink"

// token turns a peer name into one subject token: peer names may hold '.',
// which separates NATS tokens, and never '~' (wire.CheckName), so the
// mapping is one to one.
func token(name string) string { return strings.ReplaceAll(name, ".", "~") }

// untoken is token's inverse; it returns "" for a token that is no peer
// name, so a subject forged with a name wire would refuse names nobody.
func untoken(t string) string {
	name := strings.ReplaceAll(t, "~", ".")
	if wire.CheckName("peer", name) != nil {
		return ""
	}
	return name
}

// frameSubject is where from's instance inst publishes a frame for to.
func frameSubject(to, from, inst string) string {
	return Prefix + ".to." + token(to) + "." + token(from) + "." + inst
}

// inboxSubject is what name subscribes to for the frames sent to it.
func inboxSubject(name string) string { return Prefix + ".to." + token(name) + ".*.*" }

// presenceSubject is where name announces itself.
func presenceSubject(name string) string { return Prefix + ".presence." + token(name) }

// presenceAll is what every peer subscribes to, to learn who is there.
const presenceAll = Prefix + ".presence.*"

// parseFrameSubject returns the sender and its instance of a frame that
// arrived on subj, a subject of inboxSubject's; ok is false for anything
// else.
func parseFrameSubject(subj string) (from, inst string, ok bool) {
	parts := strings.Split(subj, ".")
	if len(parts) != 5 || parts[0] != Prefix || parts[1] != "to" || parts[4] == "" {
		return "", "", false
	}
	from = untoken(parts[3])
	return from, parts[4], from != ""
}

// parsePresenceSubject returns whose presence arrived on subj.
func parsePresenceSubject(subj string) (string, bool) {
	parts := strings.Split(subj, ".")
	if len(parts) != 3 || parts[0] != Prefix || parts[1] != "presence" {
		return "", false
	}
	name := untoken(parts[2])
	return name, name != ""
}

// Permissions are what a NATS user may publish and subscribe to.
type Permissions struct {
	Publish, Subscribe []string
}

// PermissionsFor is what the NATS user of peer name needs and may do, and
// no more: send frames only as itself to anyone, read only its own, and
// announce only itself while hearing everyone's presence.
func PermissionsFor(name string) Permissions {
	return Permissions{
		Publish:   []string{Prefix + ".to.*." + token(name) + ".*", presenceSubject(name)},
		Subscribe: []string{inboxSubject(name), presenceAll},
	}
}

// Inbox is the subjects peer name reads its frames on: a key that may
// subscribe to them is name's (doctor checks an agent's so).
func Inbox(name string) string { return inboxSubject(name) }
