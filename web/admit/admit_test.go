package admit

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestKey(t *testing.T) {
	for _, tc := range []struct {
		name, addr, want string
	}{
		{"an IPv4 address with a port counts as the address", "192.0.2.7:51234", "192.0.2.7"},
		{"a bare IPv4 address counts as itself", "192.0.2.7", "192.0.2.7"},
		{"an IPv4-mapped IPv6 address counts as the IPv4 address", "[::ffff:192.0.2.7]:80", "192.0.2.7"},
		{"an IPv6 address counts as its /64", "[2001:db8:1:2:aaaa::1]:443", "2001:db8:1:2::/64"},
		{"another address of the same /64 counts the same", "2001:db8:1:2:bbbb::9", "2001:db8:1:2::/64"},
		{"a zoned link-local address counts as its /64", "[fe80::1%eth0]:80", "fe80::/64"},
		{"what is no address counts as itself", "pipe", "pipe"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Key(tc.addr); got != tc.want {
				t.Errorf("Key(%q) = %q, want %q", tc.addr, got, tc.want)
			}
		})
	}
}

func mustEnter(t *testing.T, b *Bound, addr string) func() {
	t.Helper()
	leave, err := b.Enter(context.Background(), addr)
	if err != nil {
		t.Fatalf("enter from %s: %v", addr, err)
	}
	return leave
}

func TestEnterRefusesAnAddressOverItsShareAtOnce(t *testing.T) {
	b := New(10, 2, time.Hour)
	leave := mustEnter(t, b, "192.0.2.1:1")
	mustEnter(t, b, "192.0.2.1:2")
	if _, err := b.Enter(context.Background(), "192.0.2.1:3"); !errors.Is(err, ErrAddrBusy) {
		t.Fatalf("a third request from one address: %v, want ErrAddrBusy", err)
	}
	mustEnter(t, b, "192.0.2.2:1") // another address still has places
	leave()
	leave() // a second leave gives nothing back twice
	mustEnter(t, b, "192.0.2.1:4")
	if _, err := b.Enter(context.Background(), "192.0.2.1:5"); !errors.Is(err, ErrAddrBusy) {
		t.Fatalf("after one leave and one enter: %v, want ErrAddrBusy", err)
	}
}

func TestEnterWaitsForAPlaceThenGivesUp(t *testing.T) {
	b := New(1, 5, 50*time.Millisecond)
	leave := mustEnter(t, b, "192.0.2.1:1")
	if _, err := b.Enter(context.Background(), "192.0.2.2:1"); !errors.Is(err, ErrBusy) {
		t.Fatalf("with every place taken: %v, want ErrBusy", err)
	}
	// A place freed during the wait is taken.
	b = New(1, 5, time.Hour)
	leave = mustEnter(t, b, "192.0.2.1:1")
	got := make(chan error, 1)
	go func() {
		_, err := b.Enter(context.Background(), "192.0.2.2:1")
		got <- err
	}()
	leave()
	if err := <-got; err != nil {
		t.Fatalf("a place freed while waiting: %v", err)
	}
}

func TestEnterEndsWithItsContext(t *testing.T) {
	b := New(1, 5, time.Hour)
	mustEnter(t, b, "192.0.2.1:1")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Enter(ctx, "192.0.2.2:1"); !errors.Is(err, context.Canceled) {
		t.Fatalf("a cancelled wait: %v, want context.Canceled", err)
	}
	// The cancelled request holds nothing of its address's share.
	if n := b.held["192.0.2.2"]; n != 0 {
		t.Fatalf("a cancelled request left %d place(s) counted for its address", n)
	}
}
