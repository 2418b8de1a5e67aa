package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/peerlink/peerlink/sync/watch"
)

// The change journal (issue 14, item 3: "a partition is not a crash"): so
// that a host cut off from the hub catches up in proportion to what
// changed rather than to the size of its tree, the agent records, in
// agent.db (store/journal.go), every path that changes under a session's
// root, and the hub's catch-up asks it to rescan those paths only.
//
// The journal is kept by a watcher of its own (the journaler), started when
// the session is first attached in this process and kept until the session
// ends or the agent stops: across losses of the hub and the attachments
// that follow them, which stop and restart the live watcher. So there is no
// moment, from its start on, when a change under the root goes unseen, and
// no need to know when the hub stopped hearing from the host: the journal
// holds everything since the hub last merged it (the hub clears it, up to
// the number its catch-up's scan read, once the host is live again), which
// is a superset of what the hub missed. It watches the tree only (inotify,
// no write-open detection); its cost is a second watch per folder.
//
// The journal says "everything", and the catch-up rescans the whole root,
// whenever it cannot vouch for a path:
//   - when a journaler starts: what changed before, while no journaler ran
//     (the agent was down, or the session not attached on it), was not seen.
//     An agent restarted while away therefore always rescans fully: the
//     journal it finds on disk was not kept continuously. Proving otherwise
//     would need the file system's own change log, which we do not have.
//   - when the watcher lost events (queue overflow), met a watch limit, or
//     stopped with an error; and past store.JournalMax paths.

// journalLag bounds how long the watcher takes to deliver a change: its
// own pairing windows (a move's two halves, an office lock file) are 50
// and 200 ms. A catch-up's scan reads the journal no sooner than this long
// after the session's attachment, whose live watcher sees what comes after.
const journalLag = 500 * time.Millisecond

// journalFlush is how long the journaler gathers paths before it commits
// them: one bbolt commit per burst.
const journalFlush = 100 * time.Millisecond

// journaler is one session's journal keeper; the Agent owns it.
type journaler struct {
	session, root string
	a             *Agent
	w             *watch.Watcher
	// syncs asks the loop to commit what it gathered; it answers on the
	// channel sent.
	syncs  chan chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// startJournal starts s's journaler if none runs for its root. One that
// runs on another root (the session's root changed) is stopped first.
func (a *Agent) startJournal(s *attached) {
	a.mu.Lock()
	j := a.journals[s.name]
	a.mu.Unlock()
	if j != nil && j.root == s.root {
		return
	}
	if j != nil {
		a.stopJournal(s.name)
	}
	why := fmt.Sprintf("the agent started watching the session's root at %s; what changed before was not seen", time.Now().Format(time.DateTime))
	if err := a.db.JournalAll(s.name, why); err != nil {
		a.log.Error().Err(err).Str("session", s.name).Msg("journal: the next catch-up may miss changes; restart the session if it does")
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := watch.New(ctx, s.root, watch.Options{Filter: s.filter, Mode: watch.InotifyOnly})
	if err != nil {
		cancel()
		a.log.Warn().Err(err).Str("session", s.name).Msg("journal: cannot watch the root; a catch-up after a cut rescans the whole root")
		return
	}
	j = &journaler{session: s.name, root: s.root, a: a, w: w, syncs: make(chan chan struct{}), cancel: cancel, done: make(chan struct{})}
	go j.loop()
	a.mu.Lock()
	a.journals[s.name] = j
	a.mu.Unlock()
}

// stopJournal ends session's journaler, if one runs, and waits for it.
func (a *Agent) stopJournal(session string) {
	a.mu.Lock()
	j := a.journals[session]
	delete(a.journals, session)
	a.mu.Unlock()
	if j != nil {
		j.cancel()
		j.w.Close()
		<-j.done
	}
}

// stopJournals ends every journaler: the agent stops.
func (a *Agent) stopJournals() {
	a.mu.Lock()
	names := make([]string, 0, len(a.journals))
	for n := range a.journals {
		names = append(names, n)
	}
	a.mu.Unlock()
	for _, n := range names {
		a.stopJournal(n)
	}
}

// syncJournal commits what session's journaler gathered; false if none
// runs (the journal then says everything since its start anyway).
func (a *Agent) syncJournal(ctx context.Context, session string) bool {
	a.mu.Lock()
	j := a.journals[session]
	a.mu.Unlock()
	if j == nil {
		return false
	}
	ack := make(chan struct{})
	select {
	case j.syncs <- ack:
	case <-j.done:
		return false
	case <-ctx.Done():
		return false
	}
	select {
	case <-ack:
		return true
	case <-ctx.Done():
		return false
	}
}

func (j *journaler) loop() {
	defer close(j.done)
	gathered := map[string]bool{}
	t := time.NewTimer(time.Hour)
	t.Stop()
	commit := func() {
		if len(gathered) == 0 {
			return
		}
		paths := make([]string, 0, len(gathered))
		for p := range gathered {
			paths = append(paths, p)
		}
		clear(gathered)
		if err := j.a.db.JournalNote(j.session, paths, 0); err != nil {
			j.all("the journal could not be written: " + err.Error())
		}
	}
	for {
		select {
		case ev, ok := <-j.w.Events():
			if !ok {
				commit()
				if err := j.w.Err(); err != nil && !errors.Is(err, context.Canceled) {
					j.all("the journal's watcher stopped: " + err.Error())
				}
				return
			}
			if j.note(ev, gathered) && len(gathered) == 1 {
				t.Reset(journalFlush)
			}
			if len(gathered) >= 4096 {
				commit()
			}
		case <-t.C:
			commit()
		case ack := <-j.syncs:
			// What the watcher delivered already is committed too.
			for drained := false; !drained; {
				select {
				case ev, ok := <-j.w.Events():
					if !ok {
						drained = true
						break
					}
					j.note(ev, gathered)
				default:
					drained = true
				}
			}
			commit()
			close(ack)
		}
	}
}

// note gathers what ev says changed; true if it named a path.
func (j *journaler) note(ev watch.Event, gathered map[string]bool) bool {
	switch ev.Op {
	case watch.Overflow:
		j.all("the watcher lost events (its queue overflowed)")
		return false
	case watch.Limited:
		j.all(fmt.Sprintf("a watch limit left folders unwatched: %v", ev.Err))
		return false
	case watch.Skipped, watch.OpensLost:
		return false
	}
	if ev.Path == "" {
		return false
	}
	gathered[ev.Path] = true
	if ev.Op == watch.Renamed && ev.OldPath != "" {
		gathered[ev.OldPath] = true
	}
	return true
}

func (j *journaler) all(why string) {
	if err := j.a.db.JournalAll(j.session, why); err != nil {
		j.a.log.Error().Err(err).Str("session", j.session).Msg("journal: the next catch-up may miss changes; restart the session if it does")
	}
	j.a.log.Info().Str("session", j.session).Str("why", why).Msg("journal: the next catch-up rescans the whole root")
}
