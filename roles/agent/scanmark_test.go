//go:build linux

package agent

import (
	"context"
	"testing"
)

// A whole scan that supersedes what was reported before it (the start-up's)
// forgets the removals noted: the hub plans from the scan, which saw them,
// and a fetch it plans there must not be refused (make chaos, seed 30224).
// Another whole scan keeps them.
func TestScanMarkForgetsRemovalsOnlyWhenSuperseded(t *testing.T) {
	for _, forget := range []bool{false, true} {
		l, _ := newTestLive(t)
		l.seq = 41
		l.removed.note("a/f3.bin")
		m := scanMark{forget: forget, reply: make(chan uint64, 1)}
		l.serveMark(context.Background(), m)
		if got := <-m.reply; got != 41 {
			t.Errorf("forget %v: reported %d, want the last Seq sent, 41", forget, got)
		}
		err := l.refuseRemoved("a/f3.bin", nil)
		if forget && err != nil {
			t.Errorf("a fetch after a superseding scan refused: %v", err)
		}
		if !forget && err == nil {
			t.Error("a fetch of a path removed lately made again after a scan that supersedes nothing")
		}
	}
}

// A scan does not wait for a loop that has ended: it reports no mark.
func TestScanMarkOfAnEndedLoop(t *testing.T) {
	l, _ := newTestLive(t)
	l.marks = make(chan scanMark)
	close(l.done)
	if got := l.markScan(context.Background(), true); got != 0 {
		t.Errorf("mark %d from an ended loop, want 0", got)
	}
}
