package hub

import (
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/store"
)

// eventLog writes a run's events to its session's log off the live loop:
// a lock must not wait for the bbolt commit, and its fsync, of the event of
// the lock before it. Events keep their order and their time of
// occurrence; events that arrive together are written in one transaction.
// What is queued when the run ends is written before close returns.
type eventLog struct {
	h       *Hub
	session string
	log     zerolog.Logger
	in      chan queued
	done    chan struct{}

	mu     sync.Mutex
	closed bool
}

// queued is an event to write, or a flush: a channel closed once what was
// queued before it is written.
type queued struct {
	ev      store.Event
	flushed chan struct{}
}

// eventQueue bounds the events waiting to be written; a full queue makes
// the run wait, so nothing is lost.
const eventQueue = 4096

// maxEventBatch bounds the events one transaction writes.
const maxEventBatch = 1024

func newEventLog(h *Hub, session string, log zerolog.Logger) *eventLog {
	e := &eventLog{h: h, session: session, log: log, in: make(chan queued, eventQueue), done: make(chan struct{})}
	go e.write()
	return e
}

// add queues evs, or, once the run has ended (a late message of a host
// still being handled), writes them itself.
func (e *eventLog) add(evs ...store.Event) {
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		<-e.done // after what close is still writing, in order
		e.store(evs)
		return
	}
	for _, ev := range evs {
		if ev.Time.IsZero() {
			ev.Time = now
		}
		e.in <- queued{ev: ev} // the writer never takes mu: a full queue only waits for it
	}
}

// flush returns once every event added before it is written, so that a
// read of the log sees them.
func (e *eventLog) flush() {
	done := make(chan struct{})
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		<-e.done // close writes everything queued
		return
	}
	e.in <- queued{flushed: done}
	e.mu.Unlock()
	<-done
}

// close writes what is queued and stops the writer.
func (e *eventLog) close() {
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		close(e.in)
	}
	e.mu.Unlock()
	<-e.done
}

func (e *eventLog) write() {
	defer close(e.done)
	batch := make([]store.Event, 0, 64)
	for q := range e.in {
		var flushed []chan struct{}
		batch = batch[:0]
	more:
		for {
			if q.flushed != nil {
				flushed = append(flushed, q.flushed)
			} else {
				batch = append(batch, q.ev)
			}
			if len(batch) >= maxEventBatch {
				break
			}
			select {
			case next, ok := <-e.in:
				if !ok {
					break more
				}
				q = next
			default:
				break more
			}
		}
		e.store(batch)
		for _, f := range flushed {
			close(f)
		}
	}
}

func (e *eventLog) store(evs []store.Event) {
	if len(evs) == 0 {
		return
	}
	if err := e.h.appendEvent(e.session, evs...); err != nil {
		e.log.Error().Err(err).Int("events", len(evs)).Msg("record events")
	}
}
