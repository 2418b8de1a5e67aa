package roles

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"
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

// maxTokenFile bounds what ReadTokenFile reads: a token is a line of a few
// dozen bytes, and a wrong path (a device, a log) must not be read whole.
const maxTokenFile = 4 << 10

// ReadTokenFile returns the first line of the file at path, trimmed: the
// hub's token, as the hub's DATA/token holds it. It reads at most a few
// KiB, and warns on log when others than the file's owner may read it: a
// token anyone can read is no secret.
func ReadTokenFile(path string, log zerolog.Logger) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("--token-file: %w: give the path of a copy of the hub's DATA/token file", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("--token-file %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("--token-file %s: not a regular file: give the path of a copy of the hub's DATA/token file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxTokenFile+1))
	if err != nil {
		return "", fmt.Errorf("--token-file %s: %w", path, err)
	}
	line, _, found := strings.Cut(string(b), "\n")
	if !found && len(b) > maxTokenFile {
		return "", fmt.Errorf("--token-file %s: the first line is longer than %d bytes: is it a copy of the hub's DATA/token file?", path, maxTokenFile)
	}
	token := strings.TrimSpace(line)
	if token == "" {
		return "", fmt.Errorf("--token-file %s: the first line is empty: copy the hub's DATA/token file there", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		log.Warn().Str("file", path).Str("mode", fi.Mode().Perm().String()).Msg("the token file can be read by other users: chmod 600 it")
	}
	return token, nil
}

// TokenFileFlag is --token-file: where a role reads the hub's token, so
// that the token is not on its command line, which every user of the host
// sees (ps, /proc/PID/cmdline).
func TokenFileFlag() cli.Flag {
	return &cli.StringFlag{Name: "token-file", Usage: "a file whose first line is the hub's token (a copy of the hub's DATA/token, mode 0600)",
		EnvVars: []string{"PEERLINK_TOKEN_FILE"}}
}

// Token returns the hub's token a command was given: the first line of
// --token-file when it is set, else --token or PEERLINK_TOKEN; the empty
// string when none is.
func Token(c *cli.Context, log zerolog.Logger) (string, error) {
	if p := c.String("token-file"); p != "" {
		return ReadTokenFile(p, log)
	}
	return c.String("token"), nil
}
