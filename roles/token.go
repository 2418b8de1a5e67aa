package roles

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// TokenFile is where a hub (or standalone broker) keeps its token.
func TokenFile(dataDir string) string { return filepath.Join(dataDir, "token") }

// LoadOrCreateToken returns the token under dataDir, creating it (mode 0600)
// on first start. created reports whether it was new.
func LoadOrCreateToken(dataDir string) (token string, created bool, err error) {
	p := TokenFile(dataDir)
	b, err := os.ReadFile(p)
	if err == nil {
		t := strings.TrimSpace(string(b))
		if t == "" {
			return "", false, fmt.Errorf("token file %s is empty: delete it to have a new one made", p)
		}
		return t, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("read token: %w", err)
	}
	raw := make([]byte, 24)
	if _, err := rand.Read(raw); err != nil {
		return "", false, err
	}
	t := hex.EncodeToString(raw)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", false, fmt.Errorf("create token: %w", err)
	}
	if _, err := f.WriteString(t + "\n"); err != nil {
		f.Close()
		return "", false, fmt.Errorf("write token: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", false, fmt.Errorf("write token: %w", err)
	}
	return t, true, f.Close()
}

// DataDir makes sure dir exists, private to its owner.
func DataDir(dir string) error {
	if dir == "" {
		return errors.New("--data is required: the folder where this role keeps its state")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	return nil
}
