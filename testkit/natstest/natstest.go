package natstest

import (
	"crypto/tls"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/peerlink/peerlink/testkit/ports"
)

// Server is a NATS server run in the test's process.
type Server struct {
	*server.Server
	Port int    // its client port on 127.0.0.1
	URL  string // nats://127.0.0.1:Port
}

// Start writes conf (NATS configuration, without a listen line: Start
// adds one on a free port of 127.0.0.1) to the file nats-PORT.conf in
// dir, so that include paths are relative to dir, and runs a NATS server
// with it.
// With tlsConf the server requires TLS with that configuration. The
// server logs nothing, ignores signals, and is shut down at the test's
// end; Start returns once it takes connections.
func Start(t testing.TB, dir, conf string, tlsConf *tls.Config) *Server {
	t.Helper()
	port := ports.Free(t)
	path := filepath.Join(dir, fmt.Sprintf("nats-%d.conf", port))
	text := fmt.Sprintf("listen: \"127.0.0.1:%d\"\n%s\n", port, conf)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		t.Fatalf("NATS configuration %s: %v", path, err)
	}
	opts.NoSigs, opts.NoLog = true, true
	if tlsConf != nil {
		opts.TLS, opts.TLSConfig, opts.TLSTimeout = true, tlsConf, 5
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("NATS server from %s: %v", path, err)
	}
	srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatalf("the NATS server of %s is not ready after 10 s", path)
	}
	return &Server{Server: srv, Port: port, URL: fmt.Sprintf("nats://127.0.0.1:%d", port)}
}
