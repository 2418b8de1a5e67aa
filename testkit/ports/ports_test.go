package ports

import (
	"fmt"
	"net"
	"testing"
)

// A port Free returns can be listened on at once, and two calls in a row
// do not return the same port while the first is in use.
func TestFreePortCanBeListenedOn(t *testing.T) {
	p := Free(t)
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		t.Fatalf("listen on the free port %d: %v", p, err)
	}
	defer ln.Close()
	if q := Free(t); q == p {
		t.Errorf("Free returned %d again while it was in use", q)
	}
}
