package natstest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// A server started from a configuration with an include takes the
// included users: the right password connects, a wrong one is refused.
func TestStartReadsIncludesBesideTheConfig(t *testing.T) {
	dir := t.TempDir()
	users := `authorization { users = [ { user: "a", password: "pw" } ] }`
	if err := writeFile(filepath.Join(dir, "users.conf"), users); err != nil {
		t.Fatal(err)
	}
	s := Start(t, dir, `include "users.conf"`, nil)
	nc, err := nats.Connect(s.URL, nats.UserInfo("a", "pw"), nats.Timeout(10*time.Second))
	if err != nil {
		t.Fatalf("connect with the included user: %v", err)
	}
	nc.Close()
	if nc, err := nats.Connect(s.URL, nats.UserInfo("a", "wrong"), nats.Timeout(10*time.Second)); err == nil {
		nc.Close()
		t.Error("a wrong password was admitted: the include was not read")
	}
}

func writeFile(path, text string) error { return os.WriteFile(path, []byte(text), 0o600) }
