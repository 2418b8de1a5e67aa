package natslink

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nkeys"

	"github.com/peerlink/peerlink/web/certs"
	"github.com/peerlink/peerlink/wire"
)

// The hub keeps one secret for NATS under its data directory; every
// peer's NKey is derived from it and the peer's name, so the hub stores no
// key per agent and `peerlink nats-config` can hand out an agent's seed at
// any time. Whoever holds the secret can be any peer: it stays with the
// hub, 0600 like the hub's CA key.
func secretFile(hubData string) string { return filepath.Join(hubData, "nats", "secret") }

// LoadOrCreateSecret reads the hub's NATS secret, making it the first time.
func LoadOrCreateSecret(hubData string) ([]byte, error) {
	path := secretFile(hubData)
	b, err := os.ReadFile(path)
	if err == nil {
		s, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(s) < 32 {
			return nil, fmt.Errorf("NATS secret %s is damaged: remove it and run `peerlink nats-config` again (every peer's NKey changes)", path)
		}
		return s, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read NATS secret: %w", err)
	}
	s := make([]byte, 32)
	if _, err := rand.Read(s); err != nil {
		return nil, fmt.Errorf("make NATS secret: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("make NATS secret: %w", err)
	}
	if err := certs.WriteFile(path, []byte(hex.EncodeToString(s)+"\n")); err != nil {
		return nil, fmt.Errorf("make NATS secret: %w", err)
	}
	return s, nil
}

// KeyFor derives the NKey of peer name from the hub's secret. The role is
// part of the derivation too: the hub's key is no agent's.
func KeyFor(secret []byte, name string) (nkeys.KeyPair, error) {
	if err := wire.CheckName("peer", name); err != nil {
		return nil, err
	}
	role := wire.RoleAgent
	if name == wire.HubName {
		role = wire.RoleHub
	}
	mac := hmac.New(sha256.New, secret)
	fmt.Fprintf(mac, "peerlink nats user\x00%s\x00%s", role, name)
	kp, err := nkeys.FromRawSeed(nkeys.PrefixByteUser, mac.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("NKey of %s: %w", name, err)
	}
	return kp, nil
}

// WriteConfig writes into dir the authorization block that every NATS
// server of the cluster includes (peerlink-users.conf: the hub's and each
// agent's NKey with PermissionsFor its name) and each agent's seed,
// NAME.nk, for its --nkey-file. It returns the paths it wrote.
func WriteConfig(secret []byte, dir string, agents []string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("nats-config: %w", err)
	}
	var conf strings.Builder
	conf.WriteString("# peerlink's NATS users, written by `peerlink nats-config`: include this file in\n" +
		"# every server of the cluster and reload it when an agent is added or removed.\n" +
		"# Each user may publish frames only as itself and read only its own.\n" +
		"authorization {\n  users = [\n")
	var seeds []string
	for i, name := range append([]string{wire.HubName}, agents...) {
		if i > 0 && name == wire.HubName {
			return nil, fmt.Errorf("nats-config: an agent cannot be named %q", wire.HubName)
		}
		kp, err := KeyFor(secret, name)
		if err != nil {
			return nil, fmt.Errorf("nats-config: %w", err)
		}
		pub, err := kp.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("nats-config: %w", err)
		}
		p := PermissionsFor(name)
		fmt.Fprintf(&conf, "    # %s\n    { nkey: %q, permissions: { publish: { allow: %s }, subscribe: { allow: %s } } }\n",
			name, pub, quoteList(p.Publish), quoteList(p.Subscribe))
		if i == 0 {
			continue // the hub derives its own key: no file
		}
		seed, err := kp.Seed()
		if err != nil {
			return nil, fmt.Errorf("nats-config: %w", err)
		}
		path := filepath.Join(dir, name+".nk")
		if err := certs.WriteFile(path, append(seed, '\n')); err != nil {
			return nil, fmt.Errorf("nats-config: seed of %s: %w", name, err)
		}
		seeds = append(seeds, path)
	}
	conf.WriteString("  ]\n}\n")
	path := filepath.Join(dir, "peerlink-users.conf")
	if err := certs.WriteFile(path, []byte(conf.String())); err != nil {
		return nil, fmt.Errorf("nats-config: %w", err)
	}
	return append([]string{path}, seeds...), nil
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// LoadSeed reads an NKey seed file (NAME.nk from nats-config).
func LoadSeed(path string) (nkeys.KeyPair, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("NKey seed: %w", err)
	}
	kp, err := nkeys.FromSeed([]byte(strings.TrimSpace(string(b))))
	if err != nil {
		return nil, fmt.Errorf("NKey seed %s: %w: give the NAME.nk file `peerlink nats-config` wrote for this agent", path, err)
	}
	return kp, nil
}
