package wanlink

import (
	"testing"
	"time"
)

func TestWaitUntilReturnsNoEarlierThanDue(t *testing.T) {
	for _, d := range []time.Duration{-time.Millisecond, 0, 300 * time.Microsecond, 5 * time.Millisecond} {
		due := time.Now().Add(d)
		if !waitUntil(due, nil) {
			t.Fatalf("wait of %v: interrupted without an interrupt", d)
		}
		if now := time.Now(); now.Before(due) {
			t.Errorf("wait of %v: returned %v before it was due", d, due.Sub(now))
		}
	}
}

func TestWaitUntilStopsOnInterrupt(t *testing.T) {
	interrupt := make(chan struct{})
	close(interrupt)
	if waitUntil(time.Now().Add(time.Hour), interrupt) {
		t.Fatal("a wait of an hour came to its end despite the interrupt")
	}
}
