package hub

import (
	"errors"

	"github.com/peerlink/peerlink/store"
)

// adminPasswordKey is the hub.db setting that holds the console's admin
// password, as a bcrypt hash: the password itself is never stored.
const adminPasswordKey = "admin-password-bcrypt"

// AdminPasswordHash returns the stored hash of the console's admin
// password, or nil if none was set yet.
func (h *Hub) AdminPasswordHash() ([]byte, error) {
	b, err := h.db.Setting(adminPasswordKey)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return b, err
}

// SetAdminPasswordHash replaces the hash of the console's admin password.
func (h *Hub) SetAdminPasswordHash(hash []byte) error {
	return h.db.PutSetting(adminPasswordKey, hash)
}

// Close closes the state of a hub that will not Run (Run closes it itself).
func (h *Hub) Close() error {
	return h.db.Close()
}
