package hub

import (
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/web"
	"github.com/peerlink/peerlink/web/api"
)

// ReadPasswordFile returns the admin password in the first line of path,
// trimmed, which must be at least web.MinPasswordLen characters.
func ReadPasswordFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("--admin-password-file: %w", err)
	}
	defer f.Close()
	// Only the first line matters; a wrong path to a big file is not read whole.
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return "", fmt.Errorf("--admin-password-file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pw := strings.TrimSpace(line)
	if len([]rune(pw)) < web.MinPasswordLen {
		return "", fmt.Errorf("--admin-password-file %s: the password on its first line is shorter than %d characters", path, web.MinPasswordLen)
	}
	if len(pw) > maxPasswordBytes {
		return "", fmt.Errorf("--admin-password-file %s: the password on its first line is longer than %d bytes (bcrypt's limit)", path, maxPasswordBytes)
	}
	return pw, nil
}

// maxPasswordBytes is the most bcrypt takes.
const maxPasswordBytes = 72

// NewPassword returns a random password of 20 letters and digits, easy to
// copy from a terminal.
func NewPassword() string {
	return rand.Text()[:20]
}

// adminPassword sets the admin account's password from o, or generates
// and prints one when the hub has no account at all yet. Only its bcrypt
// hash is stored.
func adminPassword(h *Hub, o Options) error {
	pw := o.AdminPassword
	if pw == "" {
		users, err := h.db.Users()
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return nil
		}
		pw = NewPassword()
		w := o.Stderr
		if w == nil {
			w = os.Stderr
		}
		fmt.Fprintf(w, "console sign-in: user admin, password %s (shown once; set your own with --admin-password-file)\n", pw)
	}
	hash, err := web.HashPassword(pw)
	if err != nil {
		return fmt.Errorf("admin password: %w", err)
	}
	u := store.User{Name: web.AdminUser, Role: string(api.RoleAdmin), Hash: hash, Creator: "hub", Created: time.Now().UTC()}
	if old, err := h.db.UserByName(web.AdminUser); err == nil {
		u.Creator, u.Created = old.Creator, old.Created
	}
	return h.db.PutUser(u)
}
