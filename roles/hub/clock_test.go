package hub

import (
	"testing"
	"time"
)

func TestSampleClock(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	ms := int64(time.Millisecond)
	w0 := t0.UnixNano()
	for _, tc := range []struct {
		name          string
		t1, t2        int64
		rt            time.Duration
		offset, delay time.Duration
	}{
		{"clocks agree, 10 ms each way, 1 ms to answer", w0 + 10*ms, w0 + 11*ms, 21 * time.Millisecond, 0, 20 * time.Millisecond},
		{"agent 5 s ahead", w0 + 5000*ms + 10*ms, w0 + 5000*ms + 11*ms, 21 * time.Millisecond, 5 * time.Second, 20 * time.Millisecond},
		{"agent 2 s behind", w0 - 2000*ms + 10*ms, w0 - 2000*ms + 10*ms, 20 * time.Millisecond, -2 * time.Second, 20 * time.Millisecond},
		{"an asymmetric path errs by at most half the delay", w0 + 18*ms, w0 + 18*ms, 20 * time.Millisecond, 8 * time.Millisecond, 20 * time.Millisecond},
		{"an agent that claims to answer before it received gives no negative delay", w0 + 10*ms, w0 + 5*ms, 1 * time.Millisecond, 7 * time.Millisecond, 6 * time.Millisecond},
		{"an agent slower to answer than the round trip gives no negative delay", w0, w0 + 50*ms, 20 * time.Millisecond, 15 * time.Millisecond, 0},
	} {
		s := sampleClock(t0, tc.t1, tc.t2, tc.rt)
		if s.offset != tc.offset || s.delay != tc.delay || !s.at.Equal(t0) {
			t.Errorf("%s: got offset %s delay %s, want %s %s", tc.name, s.offset, s.delay, tc.offset, tc.delay)
		}
	}
}

func TestHostClockKeepsTheLeastDelayOfTheWindow(t *testing.T) {
	var c hostClock
	if _, ok := c.best(); ok {
		t.Fatal("best of no sample")
	}
	c.add(clockSample{offset: 1, delay: 5 * time.Millisecond})
	c.add(clockSample{offset: 2, delay: 1 * time.Millisecond})
	c.add(clockSample{offset: 3, delay: 9 * time.Millisecond})
	if b, _ := c.best(); b.offset != 2 {
		t.Errorf("best offset %d, want the least delay's 2", b.offset)
	}
	for i := range clockWindow - 1 {
		c.add(clockSample{offset: time.Duration(10 + i), delay: 3 * time.Millisecond})
	}
	if len(c.samples) != clockWindow {
		t.Errorf("%d samples kept, want %d", len(c.samples), clockWindow)
	}
	if b, _ := c.best(); b.offset != 10+clockWindow-2 {
		t.Errorf("best offset %d once the 1 ms sample left the window, want the latest of the 3 ms ones, %d", b.offset, 10+clockWindow-2)
	}
}

func TestClocksWarnOnceEachWay(t *testing.T) {
	c := newClocks()
	if _, over, back := c.add("a", clockSample{offset: 5 * time.Second, delay: time.Millisecond}); !over || back {
		t.Errorf("first sample 5 s off: over %v back %v, want over", over, back)
	}
	if _, over, back := c.add("a", clockSample{offset: 5 * time.Second, delay: time.Millisecond}); over || back {
		t.Errorf("still 5 s off: over %v back %v, want neither", over, back)
	}
	if _, over, back := c.add("a", clockSample{offset: -1500 * time.Millisecond, delay: 0}); over || back {
		t.Errorf("1.5 s behind: over %v back %v, want neither (still off)", over, back)
	}
	if _, over, back := c.add("a", clockSample{offset: 2 * time.Millisecond, delay: 0}); over || !back {
		t.Errorf("2 ms off: over %v back %v, want back", over, back)
	}
	c.connected("a")
	if c.view("a") != nil {
		t.Error("a host that connects again keeps its old samples")
	}
	if got := <-c.kick; got != "a" {
		t.Errorf("kicked %q, want a", got)
	}
}
