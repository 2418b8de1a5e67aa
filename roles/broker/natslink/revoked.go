package natslink

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/peerlink/peerlink/web/certs"
)

// Revoked is the set of agents a hub no longer admits (`peerlink agents
// revoke`). NATS admits a peer by its NKey, which the hub derives from
// its name and cannot take back, so revocation works at two places: the
// hub's link drops every frame and presence beat of a revoked agent and
// takes it for gone within a beat (at once, whatever the NATS servers
// admit), and `peerlink nats-config` leaves it out of the NATS users it
// writes (RevokedFile), so that NATS servers reloaded with them close
// its connection and refuse it for good.
type Revoked struct {
	mu    sync.RWMutex
	names map[string]bool
}

// Set replaces the set's names.
func (r *Revoked) Set(names []string) {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	r.mu.Lock()
	r.names = m
	r.mu.Unlock()
}

// Has reports whether name is revoked; a nil set holds none.
func (r *Revoked) Has(name string) bool {
	if r == nil {
		return false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.names[name]
}

// RevokedFile is where the hub lists its revoked agents, one a line, for
// `peerlink nats-config`, which cannot open hub.db while the hub runs.
func RevokedFile(hubData string) string { return filepath.Join(hubData, "nats", "revoked") }

// WriteRevoked writes names to RevokedFile, atomically.
func WriteRevoked(hubData string, names []string) error {
	if err := os.MkdirAll(filepath.Dir(RevokedFile(hubData)), 0o700); err != nil {
		return fmt.Errorf("revoked agents for NATS: %w", err)
	}
	text := "# agents revoked by `peerlink agents revoke`: `peerlink nats-config` leaves them out. Written by the hub.\n"
	for _, n := range slices.Sorted(slices.Values(names)) {
		text += n + "\n"
	}
	if err := certs.WriteFile(RevokedFile(hubData), []byte(text)); err != nil {
		return fmt.Errorf("revoked agents for NATS: %w", err)
	}
	return nil
}

// LoadRevoked reads RevokedFile; none if the hub never wrote it.
func LoadRevoked(hubData string) ([]string, error) {
	b, err := os.ReadFile(RevokedFile(hubData))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("revoked agents for NATS: %w", err)
	}
	var names []string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			names = append(names, line)
		}
	}
	return names, nil
}
