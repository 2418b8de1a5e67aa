package agent

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/wire"
)

const testToken = "t0ken"

// startAgent runs a broker and agent site-a on it, both in this process,
// and returns the broker's URL once the agent answers the hub, as which
// hub is connected. Both stop at cleanup.
func startAgent(t *testing.T) (url string, hub *broker.Client) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url = "ws://" + ln.Addr().String()
	served := make(chan error, 1)
	go func() { served <- broker.NewServer(testToken, log).Serve(ctx, ln) }()
	a, err := New(Config{Name: "site-a", BrokerURL: url, Token: testToken, DataDir: t.TempDir(), Log: log})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("agent: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("broker: %v", err)
		}
	})
	hub = dial(t, url, wire.RoleHub, wire.HubName)
	go func() { // what agents tell the hub is of no interest here
		for {
			select {
			case <-hub.Incoming():
			case <-hub.Done():
				return
			}
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := hub.Request(rctx, "site-a", &wire.Detach{Session: "none"}, nil)
		cancel()
		if err == nil {
			return url, hub
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent site-a did not answer the hub: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func dial(t *testing.T, url string, role wire.Role, name string) *broker.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := broker.Dial(ctx, url, wire.Hello{Role: role, Name: name, Token: testToken}, zerolog.Nop())
	if err != nil {
		t.Fatalf("connect as %s: %v", name, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readOf is a whole-file read of path below root.
func readOf(t *testing.T, root, path string) *wire.Read {
	t.Helper()
	fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(path)))
	if err != nil {
		t.Fatal(err)
	}
	return &wire.Read{Session: "s", Path: path, Length: int(fi.Size()), Size: fi.Size(), Mtime: fi.ModTime().UnixNano(), Raw: true}
}

// Only the hub commands an agent, even a host of the session; a host reads
// only the paths the session takes, and the hub too.
func TestOnlyTheHubCommandsAndHostsReadOnlySessionPaths(t *testing.T) {
	url, hub := startAgent(t)
	root := t.TempDir()
	for p, content := range map[string]string{"doc.txt": "doc\n", "notes.bak": "excluded\n", ".peerlink/protected/x/doc.txt": "kept\n"} {
		full := filepath.Join(root, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	evil := dial(t, url, wire.RoleAgent, "evil")
	host := dial(t, url, wire.RoleAgent, "site-b")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	refused := func(what, sender string, err error) {
		t.Helper()
		var we *wire.Error
		if !errors.As(err, &we) || we.Kind != wire.KindPermission || !strings.Contains(we.Msg, sender) {
			t.Errorf("%s from %s: %v, want a Fail of kind permission naming %s", what, sender, err, sender)
		}
	}

	attach := &wire.Attach{Session: "s", Root: root, Exclude: []string{"*.bak"}, Hosts: []string{"site-a", "site-b"}}
	_, err := evil.Request(ctx, "site-a", attach, nil)
	refused("attach", "evil", err)
	if _, err := hub.Request(ctx, "site-a", attach, nil); err != nil {
		t.Fatalf("attach from the hub: %v", err)
	}

	in, err := host.Request(ctx, "site-a", readOf(t, root, "doc.txt"), nil)
	if err != nil || string(in.Data) != "doc\n" {
		t.Errorf("read of doc.txt by host site-b: %q, %v", in.Data, err)
	}
	_, err = evil.Request(ctx, "site-a", readOf(t, root, "doc.txt"), nil)
	refused("read of doc.txt", "evil", err)
	for _, p := range []string{"notes.bak", ".peerlink/protected/x/doc.txt"} {
		_, err = host.Request(ctx, "site-a", readOf(t, root, p), nil)
		refused("read of "+p, "site-b", err)
		_, err = hub.Request(ctx, "site-a", readOf(t, root, p), nil)
		refused("read of "+p, "hub", err)
	}
	refs := []wire.FileRef{}
	for _, p := range []string{"doc.txt", "notes.bak"} {
		r := readOf(t, root, p)
		refs = append(refs, wire.FileRef{Path: p, Size: r.Size, Mtime: r.Mtime})
	}
	_, err = host.Request(ctx, "site-a", &wire.ReadMany{Session: "s", Files: refs}, nil)
	refused("read many of doc.txt and notes.bak", "site-b", err)
	if in, err := hub.Request(ctx, "site-a", readOf(t, root, "doc.txt"), nil); err != nil || string(in.Data) != "doc\n" {
		t.Errorf("read of doc.txt by the hub: %q, %v", in.Data, err)
	}

	_, err = host.Request(ctx, "site-a", &wire.Lock{Session: "s", Path: "doc.txt", Holder: "site-b"}, nil)
	refused("lock", "site-b", err)
	_, err = host.Request(ctx, "site-a", &wire.Detach{Session: "s"}, nil)
	refused("detach", "site-b", err)
}
