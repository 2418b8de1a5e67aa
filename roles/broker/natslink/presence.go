package natslink

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/peerlink/peerlink/wire"
)

// presence is what a peer announces on its presence subject: when it
// connects (with Ask, so the others answer with theirs), every beat, and
// Up false when it closes. It stands in for the built-in broker's registry:
// from it each link makes the Peer notices that broker would send (Up and
// Down of agents to the hub, Down of agents to the other agents), and
// knows whom a request cannot reach.
type presence struct {
	Role     wire.Role `json:"role"`
	Instance string    `json:"instance"` // random per connection: a restarted peer is a new instance
	Protocol int       `json:"protocol"`
	Version  string    `json:"version"`
	Since    int64     `json:"since"` // Unix nanoseconds of the connection
	Up       bool      `json:"up"`
	Ask      bool      `json:"ask,omitempty"`
}

// maxPresence bounds a presence message; anything larger is not one.
const maxPresence = 4 << 10

// known is a peer this link has heard from.
type known struct {
	presence
	seen time.Time
}

// announce publishes this link's presence.
func (l *link) announce(up, ask bool) {
	p := l.self
	p.Up, p.Ask = up, ask
	b, err := json.Marshal(p)
	if err == nil {
		err = l.nc.Publish(presenceSubject(l.name), b)
	}
	if err != nil && l.ctx.Err() == nil {
		l.log.Debug().Err(err).Msg("presence not announced")
	}
}

// onPresence takes one peer's presence.
func (l *link) onPresence(m *nats.Msg) {
	name, ok := parsePresenceSubject(m.Subject)
	var p presence
	if !ok || len(m.Data) > maxPresence || json.Unmarshal(m.Data, &p) != nil || p.Instance == "" {
		l.stats.drop()
		l.bad.Warn().Str("subject", m.Subject).Msg("malformed presence dropped")
		return
	}
	if (name == wire.HubName) != (p.Role == wire.RoleHub) || (p.Role != wire.RoleHub && p.Role != wire.RoleAgent) {
		l.stats.drop()
		l.bad.Warn().Str("name", name).Str("role", string(p.Role)).Msg("presence with a role its name cannot have dropped")
		return
	}
	if name == l.name {
		switch {
		case p.Instance == l.self.Instance:
		case p.Up && p.Since <= l.self.Since:
			l.end(&wire.Error{Kind: wire.KindExists, Host: l.name, Msg: l.existsMsg()})
		case p.Ask:
			// A newcomer of this name: the answer tells it, within its
			// settle time, that the name is taken (the beat might not).
			l.ask()
		}
		return
	}
	if l.revoked.Has(name) {
		l.stats.drop()
		return
	}
	if p.Protocol != wire.ProtocolVersion {
		l.bad.Warn().Str("name", name).Int("protocol", p.Protocol).Int("ours", wire.ProtocolVersion).Msg("peer of another protocol version ignored: upgrade it")
		return
	}
	if p.Ask {
		l.ask()
	}
	l.arrive(name, p.Instance, &p, nil)
}

func (l *link) existsMsg() string {
	if l.self.Role == wire.RoleHub {
		return "a hub is already connected to this NATS cluster: run one hub per cluster"
	}
	return fmt.Sprintf("an agent named %s is already connected to this NATS cluster: give each agent its own --name", l.name)
}

// arrive records that name's instance inst showed life, by presence p
// (nil: by a frame, which is then delivered), and delivers the notices
// that follow, before the frame: a new instance means the old one went.
func (l *link) arrive(name, inst string, p *presence, frame []byte) {
	l.order.Lock()
	defer l.order.Unlock()
	defer func() { l.npeers.Store(int64(len(l.peers))) }()
	now := time.Now()
	k := l.peers[name]
	if k != nil && k.Instance != inst {
		if p != nil && !p.Up {
			return // the goodbye of an instance already replaced
		}
		delete(l.peers, name)
		l.notify(name, k, false, now)
		k = nil
	}
	switch {
	case p != nil && !p.Up:
		if k != nil {
			delete(l.peers, name)
			l.notify(name, k, false, now)
		}
		return
	case k == nil:
		k = &known{presence: presence{Instance: inst, Role: wire.RoleAgent, Since: now.UnixNano(), Up: true}}
		if name == wire.HubName {
			k.Role = wire.RoleHub
		}
		if p != nil {
			k.presence = *p
		}
		l.peers[name] = k
		l.notify(name, k, true, time.Unix(0, k.Since))
	case p != nil && k.Version == "":
		k.Version = p.Version
	}
	k.seen = now
	if frame != nil {
		l.push(frame)
	}
}

// notify delivers the Peer notice the built-in broker would send this
// peer: of agents only, Up to the hub only, Down to everyone.
func (l *link) notify(name string, k *known, up bool, at time.Time) {
	if k.Role != wire.RoleAgent || (up && l.self.Role != wire.RoleHub) {
		return
	}
	m := &wire.Peer{Name: name, Up: up, Since: at.UnixNano()}
	if up {
		m.Version = k.Version
	}
	b, err := wire.Marshal(l.name, 0, 0, m, nil)
	if err != nil {
		l.log.Error().Err(err).Msg("encode peer notice")
		return
	}
	l.log.Debug().Str("peer", name).Bool("up", up).Str("instance", k.Instance).Msg("peer notice")
	l.push(b)
}

// reachable reports whether a request to `to` may be answered: `to` has
// been heard from, or the link is too young to know everyone yet.
func (l *link) reachable(to string) bool {
	l.order.Lock()
	defer l.order.Unlock()
	return l.peers[to] != nil || time.Since(l.started) < l.t.settle
}

// beat announces this link every beat until it ends. Its own goroutine:
// a busy consumer, which holds up deliveries, must not silence it.
func (l *link) beat() {
	defer l.wg.Done()
	tick := time.NewTicker(l.t.beat)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			l.announce(true, false)
		case <-l.ctx.Done():
			return
		}
	}
}

// ask has the answerer announce this link, which coalesces a flood of
// questions.
func (l *link) ask() {
	select {
	case l.asked <- struct{}{}:
	default:
	}
}

// answer announces this link when a newcomer asks, at most once every
// answerGap: everyone hears each answer, so one answers every question
// asked before it, and a peer (or a rogue holding a peer's key) asking in
// a loop cannot make every other peer publish as often as it does.
func (l *link) answer() {
	defer l.wg.Done()
	for {
		select {
		case <-l.asked:
		case <-l.ctx.Done():
			return
		}
		l.announce(true, false)
		t := time.NewTimer(l.t.answerGap)
		select {
		case <-t.C:
		case <-l.ctx.Done():
			t.Stop()
			return
		}
	}
}

// expire takes peers silent for longer than expire, and revoked ones,
// for gone.
func (l *link) expire() {
	defer l.wg.Done()
	tick := time.NewTicker(l.t.beat)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
		case <-l.ctx.Done():
			return
		}
		l.order.Lock()
		now := time.Now()
		for name, k := range l.peers {
			revoked := l.revoked.Has(name)
			if now.Sub(k.seen) > l.t.expire || revoked {
				delete(l.peers, name)
				l.log.Info().Str("peer", name).Dur("silent", now.Sub(k.seen)).Bool("revoked", revoked).Msg("peer silent on NATS or revoked: taken for gone")
				l.notify(name, k, false, now)
			}
		}
		l.npeers.Store(int64(len(l.peers)))
		l.order.Unlock()
	}
}
