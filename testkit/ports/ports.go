package ports

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"testing"
)

// Pick returns a TCP port on 127.0.0.1 that was free a moment ago, below
// the kernel's ephemeral range: a port the kernel hands out (":0", or the
// local end of any outgoing connection, of which a test run makes
// thousands) may be taken by another process between the pick and the
// listen, which failed e2e tests under load with "address already in
// use"; a port below the range is taken only by a listener that asked
// for it.
func Pick() (int, error) {
	low := ephemeralLow()
	for range 1000 {
		port := 10000 + rand.IntN(low-10000)
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // taken: try another
		}
		ln.Close()
		return port, nil
	}
	return 0, fmt.Errorf("pick a free port: none free on 127.0.0.1 between 10000 and %d", low)
}

// Free is Pick for a test: it fails t if no port can be had.
func Free(t testing.TB) int {
	t.Helper()
	port, err := Pick()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// Addr is Pick as an address, "127.0.0.1:port".
func Addr() (string, error) {
	port, err := Pick()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("127.0.0.1:%d", port), nil
}

// ephemeralLow is the lowest port of the kernel's ephemeral range, or
// Linux's default, 32768, where it cannot be read (every other system's
// range starts higher).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	var low, high int
	if _, err := fmt.Sscan(string(b), &low, &high); err != nil || low <= 11000 {
		return 32768
	}
	return low
}
