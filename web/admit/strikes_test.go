package admit

import (
	"testing"
	"time"
)

func TestStrikes(t *testing.T) {
	now := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	s := NewStrikes(3, time.Minute, func() time.Time { return now })
	for i := range 3 {
		if w := s.Wait("192.0.2.1:1000"); w != 0 {
			t.Fatalf("after %d strikes: wait %s, want none", i, w)
		}
		s.Strike("192.0.2.1:1000")
	}
	if w := s.Wait("192.0.2.1:2000"); w != time.Minute {
		t.Errorf("after 3 strikes, another port of the address: wait %s, want 1m", w)
	}
	if w := s.Wait("198.51.100.7:1000"); w != 0 {
		t.Errorf("another address: wait %s, want none", w)
	}
	now = now.Add(40 * time.Second)
	if w := s.Wait("192.0.2.1"); w != 20*time.Second {
		t.Errorf("40 s later: wait %s, want 20s", w)
	}
	now = now.Add(20 * time.Second)
	if w := s.Wait("192.0.2.1"); w != 0 {
		t.Errorf("when the window ended: wait %s, want none", w)
	}
	// IPv6: one /64 counts as one address.
	for range 3 {
		s.Strike("[2001:db8::1]:1000")
	}
	if w := s.Wait("[2001:db8::ffff]:1"); w == 0 {
		t.Errorf("another address of the same /64 is not refused")
	}
}

func TestStrikesForgetBeyondTheirBound(t *testing.T) {
	now := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	s := NewStrikes(1, time.Minute, func() time.Time { return now })
	for i := range maxTracked + 10 {
		s.Strike(Key("10.0.0.0") + string(rune('a'+i%26)) + string(rune(i)))
	}
	if n := len(s.byAddr); n > maxTracked {
		t.Errorf("%d addresses tracked, want at most %d", n, maxTracked)
	}
}
