package api

import (
	"fmt"
	"strings"
	"time"
)

// Role is what a person may do through the console and the REST API. Each
// role may do all that the roles below it may.
type Role string

// The roles, from the least to the most allowed.
const (
	RoleViewer   Role = "viewer"   // reads everything, changes nothing
	RoleHelpdesk Role = "helpdesk" // also releases locks by hand and resolves conflicts
	RoleAdmin    Role = "admin"    // everything: sessions, tokens, accounts
)

// Rank orders the roles: 0 for no role, 3 for admin.
func (r Role) Rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleHelpdesk:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Allows reports whether r may do what needs role need.
func (r Role) Allows(need Role) bool { return r.Rank() >= need.Rank() && r.Rank() > 0 }

// ParseRole checks a role's name; empty is an error too.
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if r.Rank() == 0 {
		return "", fmt.Errorf("%w: role %q: use admin, helpdesk or viewer", ErrInvalid, s)
	}
	return r, nil
}

// TokenPrefix starts every API token's secret, so a token is recognised
// (by a person, and by secret scanners) and told apart from the hub's old
// shared token.
const TokenPrefix = "plk_"

// tokenSecretLen is the length of the part after the prefix: 32 random
// bytes in unpadded base64url.
const tokenSecretLen = 43

// CheckTokenFormat reports whether s has the shape of an API token,
// without saying anything of whether the hub knows it.
func CheckTokenFormat(s string) error {
	rest, ok := strings.CutPrefix(s, TokenPrefix)
	if !ok || len(rest) != tokenSecretLen || strings.IndexFunc(rest, notBase64URL) >= 0 {
		return fmt.Errorf("%w: an API token is %s followed by %d letters, digits, - or _ (as `peerlink tokens create` prints it once)", ErrInvalid, TokenPrefix, tokenSecretLen)
	}
	return nil
}

func notBase64URL(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
}

// MaxNameLen bounds the name of a token or an account.
const MaxNameLen = 64

// CheckPersonName checks the name of a token or an account: 1 to
// MaxNameLen letters, digits, '.', '_', '-' or '@', not starting with a
// punctuation mark.
func CheckPersonName(what, s string) error {
	if s == "" || len(s) > MaxNameLen {
		return fmt.Errorf("%w: %s name %q: give 1 to %d characters", ErrInvalid, what, s, MaxNameLen)
	}
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || (i > 0 && strings.ContainsRune("._-@", r))
		if !ok {
			return fmt.Errorf("%w: %s name %q: use letters, digits and . _ - @ (not first)", ErrInvalid, what, s)
		}
	}
	return nil
}

// TokenRequest asks for a new API token (POST /api/v1/tokens).
type TokenRequest struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
	// TTL, if set, makes the token expire that long after it is made.
	TTL Duration `json:"ttl,omitempty"`
}

// APIToken describes an API token; its secret is never shown again.
type APIToken struct {
	Name     string    `json:"name"`
	Role     Role      `json:"role"`
	Creator  string    `json:"creator"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires,omitzero"`
	LastUsed time.Time `json:"last_used,omitzero"`
}

// NewToken is the answer to a TokenRequest: the secret, shown this once.
type NewToken struct {
	APIToken
	Secret string `json:"secret"`
}

// MinPasswordLen is the shortest password an account may have.
const MinPasswordLen = 8

// MaxPasswordLen is the longest (bcrypt reads 72 bytes at most).
const MaxPasswordLen = 72

// UserRequest adds a local console account (POST /api/v1/users).
type UserRequest struct {
	Name     string `json:"name"`
	Role     Role   `json:"role"`
	Password string `json:"password"`
}

// User describes a local console account.
type User struct {
	Name    string    `json:"name"`
	Role    Role      `json:"role"`
	Creator string    `json:"creator"`
	Created time.Time `json:"created"`
}

// RoleRequest changes an account's role (PUT /api/v1/users/{name}/role).
type RoleRequest struct {
	Role Role `json:"role"`
}

// ReleaseRequest releases a lock by hand
// (POST /api/v1/sessions/{name}/locks/release).
type ReleaseRequest struct {
	Path string `json:"path"`
}

// Released is the lock a ReleaseRequest released.
type Released struct {
	Path    string   `json:"path"`
	Source  string   `json:"source"`
	Targets []string `json:"targets"`
}

// RevokedError is the hub's answer to a token that was revoked: who did
// it and when, so its holder is told rather than "unknown".
type RevokedError struct {
	Name, By string
	When     time.Time
}

func (e *RevokedError) Error() string { return "API token " + e.Name + " was revoked" }

// CheckPassword checks a new password's length: MinPasswordLen
// characters to MaxPasswordLen bytes.
func CheckPassword(pw string) error {
	if len([]rune(pw)) < MinPasswordLen {
		return fmt.Errorf("%w: the password is shorter than %d characters", ErrInvalid, MinPasswordLen)
	}
	if len(pw) > MaxPasswordLen {
		return fmt.Errorf("%w: the password is longer than %d bytes (bcrypt's limit)", ErrInvalid, MaxPasswordLen)
	}
	return nil
}
