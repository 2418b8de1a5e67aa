package synthagent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/wire"
)

// Config is what a synthetic agent is started with.
type Config struct {
	Name      string
	BrokerURL string // ws:// only: the bench runs the hub with --insecure-plain
	Token     string // the hub's DATA/token
	Tree      Tree   // what every session's root holds
	Log       zerolog.Logger
	// Notify, if set, is told of what a measurement waits for: the Lock,
	// Unlock, JournalClear and Scan requests as they arrive, and a scan's
	// Done part (TypeScanPart) once sent. It must not block.
	Notify func(Event)
}

// Event is a request the agent received, with when.
type Event struct {
	Type    wire.Type
	Session string
	Paths   []string // a Lock's path, an Unlock's paths
	At      time.Time
}

// Agent is one synthetic agent's connection to the broker.
type Agent struct {
	cfg Config
	c   *broker.Client
}

// Dial connects to the broker as cfg.Name, an agent.
func Dial(ctx context.Context, cfg Config) (*Agent, error) {
	hello := wire.Hello{Role: wire.RoleAgent, Name: cfg.Name, Protocol: wire.ProtocolVersion, Version: "synthagent", Token: cfg.Token}
	c, err := broker.Dial(ctx, cfg.BrokerURL, hello, cfg.Log)
	if err != nil {
		return nil, fmt.Errorf("synthetic agent %s: dial %s: %w", cfg.Name, cfg.BrokerURL, err)
	}
	return &Agent{cfg: cfg, c: c}, nil
}

// Close ends the connection; Serve returns then.
func (a *Agent) Close() error { return a.c.Close() }

// Opened tells the hub that a user here opened path for writing, as an
// agent's watcher does, and returns once the hub answered: the hub has
// granted it and sent the other hosts their Locks by then.
func (a *Agent) Opened(ctx context.Context, session, path string) error {
	if _, err := a.c.Request(ctx, wire.HubName, &wire.Opened{Session: session, Path: path, User: "bench"}, nil); err != nil {
		return fmt.Errorf("synthetic agent %s: open %s: %w", a.cfg.Name, path, err)
	}
	return nil
}

// Closed tells the hub that the writer closed path without modifying it:
// the hub releases the other copies' locks.
func (a *Agent) Closed(ctx context.Context, session, path string) error {
	if err := a.c.Send(ctx, wire.HubName, &wire.Closed{Session: session, Path: path}, nil); err != nil {
		return fmt.Errorf("synthetic agent %s: close %s: %w", a.cfg.Name, path, err)
	}
	return nil
}

// Serve answers the hub's requests until ctx ends or the connection is
// lost. Scans and applies run on goroutines of their own, which it waits
// for before it returns.
func (a *Agent) Serve(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	defer g.Wait()
	for {
		var in broker.Incoming
		select {
		case in = <-a.c.Incoming():
		case <-a.c.Done():
			return fmt.Errorf("synthetic agent %s: %w", a.cfg.Name, a.c.Err())
		case <-ctx.Done():
			return nil
		}
		switch m := in.Msg.(type) {
		case *wire.Peer, *wire.Sessions:
			// Nothing journaled here to settle.
		case *wire.Attach:
			a.reply(ctx, in, &wire.Attached{Root: a.identity(m.Session)})
		case *wire.RootCheck:
			a.reply(ctx, in, &wire.OK{})
		case *wire.Clock:
			now := time.Now().UnixNano()
			a.reply(ctx, in, &wire.ClockData{Received: now, Sent: time.Now().UnixNano()})
		case *wire.Lock:
			a.note(wire.TypeLock, m.Session, []string{m.Path})
			a.reply(ctx, in, &wire.OK{})
		case *wire.Unlock:
			a.note(wire.TypeUnlock, m.Session, m.Paths)
			a.reply(ctx, in, &wire.OK{})
		case *wire.JournalClear:
			a.note(wire.TypeJournalClear, m.Session, nil)
			a.reply(ctx, in, &wire.OK{})
		case *wire.Detach:
			a.reply(ctx, in, &wire.OK{})
		case *wire.Scan:
			a.note(wire.TypeScan, m.Session, nil)
			g.Go(func() error { a.scan(ctx, in, m); return nil })
		case *wire.Apply:
			g.Go(func() error { a.apply(ctx, in, m); return nil })
		default:
			if in.ID != 0 {
				a.reply(ctx, in, &wire.Fail{Error: wire.Error{Kind: wire.KindInvalid, Op: string(in.Type), Host: a.cfg.Name,
					Msg: "a synthetic agent has no files to serve"}})
			}
		}
	}
}

func (a *Agent) note(t wire.Type, session string, paths []string) {
	if a.cfg.Notify != nil {
		a.cfg.Notify(Event{Type: t, Session: session, Paths: paths, At: time.Now()})
	}
}

func (a *Agent) reply(ctx context.Context, in broker.Incoming, m wire.Message) {
	if err := a.c.Reply(ctx, in, m, nil); err != nil {
		a.cfg.Log.Debug().Err(err).Str("type", string(in.Type)).Msg("reply")
	}
}

// identity is the same root id at every attach of a session here, so
// that the hub takes every start after the first for the same root.
func (a *Agent) identity(session string) wire.RootIdentity {
	sum := sha256.Sum256([]byte(a.cfg.Name + "/" + session))
	return wire.RootIdentity{ID: hex.EncodeToString(sum[:16])}
}

// scan streams the generated tree (or the part of it under m.Path) and a
// Done part with journal number 1, so that the hub clears the journal
// once it merged the scan: the sign the bench waits for.
func (a *Agent) scan(ctx context.Context, in broker.Incoming, m *wire.Scan) {
	emit := func(batch []wire.Entry) error {
		if m.Path != "" {
			batch = under(batch, m.Path)
			if len(batch) == 0 {
				return nil
			}
		}
		return a.c.Reply(ctx, in, &wire.ScanPart{Session: m.Session, Entries: batch}, nil)
	}
	stats, err := a.cfg.Tree.Walk(0, emit)
	if err != nil {
		a.reply(ctx, in, &wire.Fail{Error: *wire.ToError("scan", a.cfg.Name, "", err)})
		return
	}
	a.reply(ctx, in, &wire.ScanPart{Session: m.Session, Done: true, Stats: stats, Journal: 1})
	a.note(wire.TypeScanPart, m.Session, nil)
}

func under(batch []wire.Entry, path string) []wire.Entry {
	var out []wire.Entry
	for _, e := range batch {
		if e.Path == path || len(e.Path) > len(path) && e.Path[:len(path)] == path && e.Path[len(path)] == '/' {
			out = append(out, e)
		}
	}
	return out
}

// apply answers every op as done, the target now holding what it wanted,
// in Applied batches, the last one Done.
func (a *Agent) apply(ctx context.Context, in broker.Incoming, m *wire.Apply) {
	res := make([]wire.OpResult, 0, len(m.Ops))
	for _, op := range m.Ops {
		r := wire.OpResult{Kind: op.Kind, Path: op.Path}
		if op.Kind != wire.OpDelete {
			r.Entry = op.Want
		}
		if op.Kind == wire.OpFetch {
			r.Bytes = op.Want.Size
		}
		res = append(res, r)
	}
	for {
		n := min(len(res), 1024)
		last := n == len(res)
		if err := a.c.Reply(ctx, in, &wire.Applied{Session: m.Session, Results: res[:n], Done: last}, nil); err != nil {
			a.cfg.Log.Debug().Err(err).Msg("applied reply")
			return
		}
		if last {
			return
		}
		res = res[n:]
	}
}
