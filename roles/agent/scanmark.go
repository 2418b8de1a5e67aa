package agent

import (
	"context"
)

// A whole scan supersedes what the live loop reported before it began
// (make chaos, seed 30224): a user removed a folder as the session was
// started again, the loop handled the removals before the start-up's scan
// but sent them 20 ms later (flushAfter), after it; the scan saw the
// folder gone, the merge brought it back here, and the hub then carried
// the removals to the other hosts, which lost what this host had back.
// So, before a whole scan walks the root, the loop handles the events
// already queued and sends what it holds, and the scan's last part names
// the last report's number (wire.ScanPart.Reported): the hub drops those
// reports, which the scan covers, when it asked so (wire.Scan.Supersede).

// scanMark is a scan's request to the loop (or an op's whose folder is
// missing: renamed.go): the reply is the last Seq sent.
type scanMark struct {
	// forget: the hub drops what was reported, so the removals noted so
	// far no longer refuse a fetch (removed.go), nor the removals and
	// renames reported an op below them (renamed.go): the hub plans from
	// the scan, which saw them.
	forget bool
	reply  chan uint64
}

// markScan has the loop report everything it handled and returns the Seq
// of its last Changes, 0 when the loop has ended or ctx did.
func (l *live) markScan(ctx context.Context, forget bool) uint64 {
	if l == nil || l.marks == nil {
		return 0
	}
	m := scanMark{forget: forget, reply: make(chan uint64, 1)}
	select {
	case l.marks <- m:
	case <-l.done:
		return 0
	case <-ctx.Done():
		return 0
	}
	select {
	case seq := <-m.reply:
		return seq
	case <-l.done:
		return 0
	case <-ctx.Done():
		return 0
	}
}

// serveMark serves m in the loop: the events queued now happened before
// the scan walks, so they are handled first, and what they reported is
// sent with what was pending.
func (l *live) serveMark(ctx context.Context, m scanMark) {
	if l.w != nil {
		events := l.w.Events()
		for n := len(events); n > 0; n-- {
			ev, ok := <-events
			if !ok {
				break
			}
			for _, e := range l.lookAhead(ev) {
				l.handle(ctx, e)
			}
		}
	}
	l.flush(ctx)
	if m.forget {
		l.removed.clear()
		l.mu.Lock()
		l.sent.forgetLeft()
		l.mu.Unlock()
	}
	l.a.log.Debug().Str("session", l.s.name).Uint64("reported", l.seq).Bool("forget", m.forget).Msg("marked: what the loop handled so far is reported")
	m.reply <- l.seq
}
