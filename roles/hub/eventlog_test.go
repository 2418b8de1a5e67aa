package hub

import (
	"fmt"
	"testing"
	"time"

	"github.com/peerlink/peerlink/store"
)

func TestEventLogKeepsOrderAndFlushes(t *testing.T) {
	r := graceRun(t, time.Minute)
	const n = 3000 // more than one batch
	for i := range n {
		r.event("transfer", "site-a", fmt.Sprintf("f%04d", i), "")
	}
	r.events.flush()
	evs, err := r.h.db.Events(r.cfg.Name, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != n {
		t.Fatalf("%d events after flush, want %d", len(evs), n)
	}
	for i, e := range evs { // newest first
		if want := fmt.Sprintf("f%04d", n-1-i); e.Path != want {
			t.Fatalf("event %d is %s, want %s: the order was lost", i, e.Path, want)
		}
		if e.Time.IsZero() {
			t.Fatalf("event %s has no time", e.Path)
		}
	}
}

func TestEventLogCloseWritesTheRestAndLateEvents(t *testing.T) {
	r := graceRun(t, time.Minute)
	h := r.h
	e := newEventLog(h, "s", h.log)
	for i := range 100 {
		e.add(store.Event{Kind: "lock", Path: fmt.Sprint(i)})
	}
	e.close()
	evs, err := h.db.Events("s", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 100 { // graceRun's own log wrote nothing
		t.Fatalf("%d events written by close, want 100", len(evs))
	}
	// A host's message handled after the run ended is still recorded.
	e.add(store.Event{Kind: "warning", Msg: "late"})
	e.flush()
	e.close() // twice is harmless
	evs, _ = h.db.Events("s", 1, 0)
	if len(evs) != 1 || evs[0].Msg != "late" {
		t.Fatalf("after close: %+v, want the late event", evs)
	}
}

func TestEventLogFlushDuringCloseWaitsForTheWrites(t *testing.T) {
	r := graceRun(t, time.Minute)
	e := newEventLog(r.h, "s", r.h.log)
	const n = 4000
	for i := range n {
		e.add(store.Event{Kind: "lock", Path: fmt.Sprint(i)})
	}
	go e.close()
	for {
		e.mu.Lock()
		closed := e.closed
		e.mu.Unlock()
		if closed {
			break
		}
		time.Sleep(time.Millisecond)
	}
	e.flush()
	evs, err := r.h.db.Events("s", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != n {
		t.Fatalf("flush while closing returned with %d of %d events written", len(evs), n)
	}
}
