package admit

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"
)

var (
	// ErrAddrBusy refuses a request from an address that already holds,
	// or waits for, every place it may have.
	ErrAddrBusy = errors.New("too many requests at once from this address")
	// ErrBusy refuses a request for which no place freed within the wait.
	ErrBusy = errors.New("too many requests at once")
)

// Bound is a set of places, each held by one request from Enter to its
// leave; it is safe for concurrent use.
type Bound struct {
	perAddr int
	wait    time.Duration
	places  chan struct{} // a token per place taken

	mu   sync.Mutex
	held map[string]int // by Key: places held and waited for
}

// New returns a Bound of all places, at most perAddr of them held or
// waited for by one address at once, where a request waits at most wait
// for a place to free.
func New(all, perAddr int, wait time.Duration) *Bound {
	return &Bound{perAddr: perAddr, wait: wait, places: make(chan struct{}, all), held: map[string]int{}}
}

// Enter takes a place for a request from remoteAddr (host:port, or a bare
// IP address), waiting at most the Bound's wait, or until ctx ends, for
// one to free. It returns ErrAddrBusy at once when the address has all the
// places it may; leave gives the place back, once.
func (b *Bound) Enter(ctx context.Context, remoteAddr string) (leave func(), err error) {
	k := Key(remoteAddr)
	b.mu.Lock()
	if b.held[k] >= b.perAddr {
		b.mu.Unlock()
		return nil, ErrAddrBusy
	}
	b.held[k]++
	b.mu.Unlock()

	select {
	case b.places <- struct{}{}:
	default:
		t := time.NewTimer(b.wait)
		defer t.Stop()
		select {
		case b.places <- struct{}{}:
		case <-t.C:
			b.release(k)
			return nil, ErrBusy
		case <-ctx.Done():
			b.release(k)
			return nil, ctx.Err()
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-b.places
			b.release(k)
		})
	}, nil
}

func (b *Bound) release(k string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held[k]--; b.held[k] <= 0 {
		delete(b.held, k)
	}
}

// Key is what requests are counted by: the IPv4 address of remoteAddr
// (host:port, or a bare address), or its IPv6 /64 network, which one
// client commonly holds whole. Anything else counts as itself.
func Key(remoteAddr string) string {
	ip := remoteAddr
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		ip = host
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a = a.Unmap(); a.Is4() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}
