package ports

import (
	"fmt"
	"net"
	"testing"
)

// Pick returns a TCP port on 127.0.0.1 that was free a moment ago.
func Pick() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
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
