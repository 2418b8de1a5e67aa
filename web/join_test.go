package web

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/web/enrol"
)

// refusingEnroller refuses every join as an unknown code.
type refusingEnroller struct{ Enroller }

func (refusingEnroller) Join(enrol.Request, *x509.CertificateRequest, string) (enrol.Response, error) {
	return enrol.Response{}, fmt.Errorf("%w: unknown join code", api.ErrDenied)
}

func newJoinServer(t *testing.T) *Server {
	s := New(newFakeHub(t), Config{Token: testToken, Log: zerolog.Nop(), Agents: refusingEnroller{}})
	t.Cleanup(s.Close)
	return s
}

func joinWith(s http.Handler, remote string, body io.Reader) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", enrol.Path, body)
	r.RemoteAddr = remote
	r.TLS = &tls.ConnectionState{} // served over TLS, as joins must be
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w
}

// A join whose body is still being read holds one of its address's
// places: one more than maxAddrJoining from that address is refused at
// once with 429, while another address is served.
func TestJoinsServedAtOnceAreBoundedPerAddress(t *testing.T) {
	s := newJoinServer(t)
	var wg sync.WaitGroup
	held := make([]*heldBody, maxAddrJoining)
	for i := range held {
		held[i] = newHeldBody()
		wg.Add(1)
		go func() {
			defer wg.Done()
			joinWith(s, "192.0.2.1:1000", held[i])
		}()
		<-held[i].reading
	}
	w := joinWith(s, "192.0.2.1:1001", strings.NewReader(`{}`))
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Connection") != "close" || w.Header().Get("Retry-After") == "" {
		t.Fatalf("one join more from an address with %d being read: status %d, headers %v, want 429, Retry-After and the connection closed",
			maxAddrJoining, w.Code, w.Header())
	}
	if w := joinWith(s, "198.51.100.7:1000", strings.NewReader(`{}`)); w.Code != http.StatusBadRequest {
		t.Fatalf("a join from another address meanwhile: status %d, want 400 (its body is no join request): %s", w.Code, w.Body)
	}
	for _, b := range held {
		close(b.release)
	}
	wg.Wait()
}

// Refused joins (bad requests and refused codes alike) count against
// their address: after maxJoinRefusals its joins get 429, others' do not.
func TestRefusedJoinsRefuseTheirAddress(t *testing.T) {
	s := newJoinServer(t)
	for i := range maxJoinRefusals {
		if w := joinWith(s, "192.0.2.1:1000", strings.NewReader(`not json`)); w.Code != http.StatusBadRequest {
			t.Fatalf("refused join %d: status %d, want 400", i+1, w.Code)
		}
	}
	w := joinWith(s, "192.0.2.1:2000", strings.NewReader(`not json`))
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" || !strings.Contains(problem(t, w), "too many refused joins from 192.0.2.1") {
		t.Fatalf("a join after %d refused: status %d %s, want 429 with Retry-After", maxJoinRefusals, w.Code, w.Body)
	}
	if w := joinWith(s, "198.51.100.7:1000", strings.NewReader(`not json`)); w.Code != http.StatusBadRequest {
		t.Fatalf("a join from another address: status %d, want 400", w.Code)
	}
}
