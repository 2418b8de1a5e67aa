package natslink

import (
	"bytes"
	"testing"
	"time"

	"github.com/peerlink/peerlink/wire"
)

// A sender that dies mid-frame and connects again leaves no partial frame
// behind: its new instance's fragments replace the old one's, so a sender
// holds at most one however often it dies, and the new frame arrives
// whole.
func TestAssemblerOnePartialPerSender(t *testing.T) {
	a := newAssembler(time.Minute)
	now := time.Now()
	for i := range 100 {
		inst := string(rune('a'+i%26)) + string(rune('a'+i/26))
		if f, _ := a.add("site-a", inst, fragMore, make([]byte, 1000), now); f != nil {
			t.Fatal("a frame from a first fragment")
		}
		if frames, held := a.holding(); frames != 1 || held != 1000 {
			t.Fatalf("after instance %d died mid-frame: %d partial frames of %d bytes, want 1 of 1000", i, frames, held)
		}
	}
	a.add("site-b", "x", fragMore, []byte("b1"), now)
	a.add("site-a", "new", fragMore, []byte("hello "), now)
	f, why := a.add("site-a", "new", fragLast, []byte("world"), now)
	if string(f) != "hello world" || why != "" {
		t.Fatalf("the new instance's frame: %q (dropped: %q)", f, why)
	}
	if frames, held := a.holding(); frames != 1 || held != 2 {
		t.Fatalf("after site-a's frame: %d partial frames of %d bytes, want site-b's alone", frames, held)
	}
}

// Fragments out of order, a frame interrupted by a whole one, an unknown
// marker: each is dropped with a reason, and the next frame arrives whole.
func TestAssemblerOutOfOrder(t *testing.T) {
	type msg struct {
		mark byte
		data string
	}
	now := time.Now()
	for _, tc := range []struct {
		name string
		msgs []msg
	}{
		{"a last fragment with no first", []msg{{fragLast, "tail"}}},
		{"a whole frame in the middle of one in fragments", []msg{{fragMore, "head"}, {fragWhole, "whole"}, {fragLast, "tail"}}},
		{"an unknown marker", []msg{{7, "what"}}},
	} {
		a := newAssembler(time.Minute)
		dropped := 0
		for _, m := range tc.msgs {
			f, why := a.add("site-a", "i", m.mark, []byte(m.data), now)
			if why != "" {
				dropped++
			}
			if f != nil && string(f) != "whole" {
				t.Errorf("%s: made frame %q", tc.name, f)
			}
		}
		if dropped == 0 {
			t.Errorf("%s: nothing said dropped", tc.name)
		}
		a.add("site-a", "i", fragMore, []byte("good "), now)
		if f, why := a.add("site-a", "i", fragLast, []byte("frame"), now); string(f) != "good frame" {
			t.Errorf("%s: the next frame: %q (%s)", tc.name, f, why)
		}
		if frames, held := a.holding(); frames != 0 || held != 0 {
			t.Errorf("%s: %d partial frames of %d bytes left", tc.name, frames, held)
		}
	}
}

// A frame in fragments larger than a frame can be is dropped once it
// outgrows wire.MaxFrame, holding no more than that, and its remaining
// fragments, however many, are dropped with it.
func TestAssemblerFrameTooLarge(t *testing.T) {
	a := newAssembler(time.Minute)
	now := time.Now()
	chunk := make([]byte, 1<<20)
	var said int
	for range wire.MaxFrame/len(chunk) + 10 {
		if _, why := a.add("site-a", "i", fragMore, chunk, now); why != "" {
			said++
		}
		if _, held := a.holding(); held > wire.MaxFrame {
			t.Fatalf("holding %d bytes, more than a frame", held)
		}
	}
	if said != 1 {
		t.Errorf("the oversized frame said dropped %d times, want once", said)
	}
	if _, held := a.holding(); held != 0 {
		t.Errorf("%d bytes held after the oversized frame was dropped", held)
	}
	if f, _ := a.add("site-a", "i", fragLast, []byte("end"), now); f != nil {
		t.Errorf("the oversized frame's last fragment made a frame of %d bytes", len(f))
	}
	if f, _ := a.add("site-a", "i", fragWhole, []byte("next"), now); string(f) != "next" {
		t.Errorf("the frame after: %q", f)
	}
}

// All senders' partial frames together stay within the assembler's bound:
// the sender whose fragment would pass it loses its frame, the others
// keep theirs; and a partial frame whose sender went silent is let go.
func TestAssemblerBoundAndStale(t *testing.T) {
	a := newAssembler(time.Minute)
	a.max = 10
	now := time.Now()
	a.add("site-a", "i", fragMore, []byte("aaaaaa"), now)
	if _, why := a.add("site-b", "i", fragMore, []byte("bbbbbb"), now); why == "" {
		t.Error("passing the bound dropped nothing")
	}
	if _, held := a.holding(); held != 6 {
		t.Errorf("%d bytes held, want site-a's 6", held)
	}
	if f, _ := a.add("site-a", "i", fragLast, []byte("!"), now); string(f) != "aaaaaa!" {
		t.Errorf("site-a's frame: %q", f)
	}
	if f, _ := a.add("site-b", "i", fragLast, []byte("!"), now); f != nil {
		t.Errorf("site-b's dropped frame came whole: %q", f)
	}

	a.add("site-a", "i", fragMore, []byte("aaaa"), now)
	later := now.Add(2 * time.Minute)
	a.add("site-c", "i", fragMore, []byte("c"), later)
	if frames, held := a.holding(); frames != 1 || held != 1 {
		t.Errorf("after site-a was silent past stale: %d partial frames of %d bytes, want site-c's alone", frames, held)
	}
	if f, _ := a.add("site-c", "i", fragLast, []byte("c"), later); !bytes.Equal(f, []byte("cc")) {
		t.Errorf("site-c's frame: %q", f)
	}
}
