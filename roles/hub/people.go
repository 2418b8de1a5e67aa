package hub

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/web"
	"github.com/peerlink/peerlink/web/api"
)

// The people who use the console and the REST API: API tokens and local
// accounts, kept in hub.db. Every change is in the hub's event log with
// who made it.

// Settings of hub.db about people.
const (
	// peopleSchemaKey is set once the hub has set up tokens and accounts:
	// the admin account from the old admin password, the first admin
	// token, and whether the shared token still signs people in.
	peopleSchemaKey = "people-schema"
	// sharedForPeopleKey is present while the hub's shared token (DATA/token)
	// still signs people in, as on a hub upgraded from before API tokens,
	// until an admin runs `peerlink tokens retire-shared`.
	sharedForPeopleKey = "shared-token-for-people"
)

// AdminTokenFile is where a new hub writes its first admin API token, for
// its administrator to start with (readable by the hub's user only).
func AdminTokenFile(dataDir string) string { return filepath.Join(dataDir, "admin-token") }

// bootstrapToken names the first admin API token.
const bootstrapToken = "hub-admin"

// touchEvery bounds how often a token's last use is written: a write per
// request would cost a disk sync each.
const touchEvery = time.Minute

// setUpPeople runs at every start: once, the first time this build opens
// hub.db, it moves the admin password to the admin account, makes the
// first admin token (DATA/admin-token), and keeps the shared token
// signing people in if the hub was used before (an upgrade); then it
// applies --admin-password-file, or makes an admin password if the hub
// has no account at all.
func setUpPeople(h *Hub, o Options) error {
	if _, err := h.db.Setting(peopleSchemaKey); errors.Is(err, store.ErrNotFound) {
		if err := firstPeople(h, o); err != nil {
			return fmt.Errorf("set up API tokens and accounts: %w", err)
		}
	} else if err != nil {
		return err
	}
	return adminPassword(h, o)
}

func firstPeople(h *Hub, o Options) error {
	old, err := h.AdminPasswordHash()
	if err != nil {
		return err
	}
	upgraded := old != nil
	if upgraded {
		// The hub ran before accounts: today's password is the admin
		// account's, and the shared token keeps working for people until
		// the administrator has moved them to API tokens.
		if err := h.db.PutUser(store.User{Name: web.AdminUser, Role: string(api.RoleAdmin), Hash: old, Creator: "upgrade", Created: time.Now()}); err != nil {
			return err
		}
		if err := h.db.PutSetting(sharedForPeopleKey, []byte("1")); err != nil {
			return err
		}
	}
	// A crash before the schema key below makes the next start do this
	// again: the token of the first try is replaced.
	if err := h.db.RevokeToken(bootstrapToken, "hub (first start, again)", time.Now()); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	tok, err := h.CreateToken(api.TokenRequest{Name: bootstrapToken, Role: api.RoleAdmin}, "hub (first start)")
	if err != nil {
		return err
	}
	if err := writePrivate(AdminTokenFile(o.DataDir), tok.Secret+"\n"); err != nil {
		return err
	}
	o.Log.Info().Str("file", AdminTokenFile(o.DataDir)).Bool("upgraded", upgraded).
		Msg("made the first admin API token: use it with --token-file, make one per person with peerlink tokens create, then revoke hub-admin")
	return h.db.PutSetting(peopleSchemaKey, []byte("1"))
}

// writePrivate writes content to path, readable by its owner only,
// atomically (temp file, sync, rename).
func writePrivate(path, content string) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// newSecret returns a new API token's secret: the prefix and 256 random
// bits.
func newSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return api.TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
}

func apiToken(t store.APIToken) api.APIToken {
	return api.APIToken{Name: t.Name, Role: api.Role(t.Role), Creator: t.Creator, Created: t.Created, Expires: t.Expires, LastUsed: t.LastUsed}
}

// Tokens lists the API tokens.
func (h *Hub) Tokens() ([]api.APIToken, error) {
	list, err := h.db.Tokens()
	if err != nil {
		return nil, err
	}
	out := make([]api.APIToken, len(list))
	for i, t := range list {
		out[i] = apiToken(t)
	}
	return out, nil
}

// CreateToken makes an API token; only the SHA-256 of its secret is kept.
func (h *Hub) CreateToken(req api.TokenRequest, by string) (api.NewToken, error) {
	if err := api.CheckPersonName("token", req.Name); err != nil {
		return api.NewToken{}, err
	}
	if _, err := api.ParseRole(string(req.Role)); err != nil {
		return api.NewToken{}, err
	}
	secret := newSecret()
	sum := sha256.Sum256([]byte(secret))
	now := time.Now().UTC()
	t := store.APIToken{Name: req.Name, Role: string(req.Role), Hash: sum[:], Creator: by, Created: now}
	if req.TTL > 0 {
		t.Expires = now.Add(time.Duration(req.TTL))
	}
	if err := h.db.AddToken(t); err != nil {
		if errors.Is(err, store.ErrExists) {
			return api.NewToken{}, fmt.Errorf("%w: a token named %s exists: revoke it first or choose another name", api.ErrExists, req.Name)
		}
		return api.NewToken{}, err
	}
	h.audit(store.HubLog, "token-created", by, fmt.Sprintf("API token %s made, role %s", req.Name, req.Role))
	return api.NewToken{APIToken: apiToken(t), Secret: secret}, nil
}

// RevokeToken revokes the named token: its next request is refused.
func (h *Hub) RevokeToken(name, by string) error {
	if err := h.db.RevokeToken(name, by, time.Now().UTC()); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: no API token named %s (see peerlink tokens list)", api.ErrNotFound, name)
		}
		return err
	}
	h.audit(store.HubLog, "token-revoked", by, "API token "+name+" revoked")
	return nil
}

// TokenByHash finds the token of a secret's hash and records its use.
func (h *Hub) TokenByHash(hash []byte) (api.APIToken, error) {
	t, rev, err := h.db.TokenByHash(hash)
	if rev != nil {
		return api.APIToken{}, &api.RevokedError{Name: rev.Name, By: rev.By, When: rev.Revoked}
	}
	if errors.Is(err, store.ErrNotFound) {
		return api.APIToken{}, fmt.Errorf("%w: API token", api.ErrNotFound)
	}
	if err != nil {
		return api.APIToken{}, err
	}
	if now := time.Now().UTC(); now.Sub(t.LastUsed) >= touchEvery {
		if err := h.db.TouchToken(t.Name, now); err != nil {
			h.log.Warn().Err(err).Str("token", t.Name).Msg("record the token's last use")
		}
		t.LastUsed = now
	}
	return apiToken(t), nil
}

// SharedTokenForPeople reports whether DATA/token still signs people in.
func (h *Hub) SharedTokenForPeople() bool {
	_, err := h.db.Setting(sharedForPeopleKey)
	return err == nil
}

// RetireSharedToken ends the shared token's use by people; agents keep it.
func (h *Hub) RetireSharedToken(by string) error {
	if err := h.db.DeleteSetting(sharedForPeopleKey); err != nil {
		return err
	}
	h.audit(store.HubLog, "shared-token-retired", by, "the hub's shared token no longer signs people in; agents keep using it")
	return nil
}

// sharedTokenWarning is the warning of status and console while the
// shared token signs people in.
const sharedTokenWarning = "the hub's shared token (DATA/token) still signs people in to the CLI and REST API, as before API tokens: " +
	"give each person an API token (peerlink tokens create --name NAME --role ROLE), then run peerlink tokens retire-shared"

// peopleWarnings are the warnings of Status about people.
func (h *Hub) peopleWarnings() []string {
	if h.SharedTokenForPeople() {
		return []string{sharedTokenWarning}
	}
	return nil
}
