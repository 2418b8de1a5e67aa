package enrol

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/peerlink/peerlink/wire"
)

// codePrefix opens every join code, so that a code pasted in the wrong
// place is recognised, and a later format can take another.
const codePrefix = "plj1"

// secretLen is the bytes of randomness of a code's secret: 128 bits, out
// of reach of guessing within any code's lifetime.
const secretLen = 16

// Code is a join code: the host it enrols, its single-use secret and the
// pin of the hub's CA ("sha256:HEX"). Its text is
// plj1:NAME:SECRET:HEX, one line, no spaces.
type Code struct {
	Name   string
	Secret string // hex
	CAHash string // "sha256:" + hex
}

// ErrBadCode is wrapped by every failure to read a join code.
var ErrBadCode = errors.New("not a join code")

// NewCode returns a new code for host name under the CA of caHash.
func NewCode(name, caHash string) (Code, error) {
	if err := wire.CheckName("host", name); err != nil {
		return Code{}, err
	}
	if name == wire.HubName {
		return Code{}, fmt.Errorf("host name %q is the hub's: give the agent's host name", name)
	}
	b := make([]byte, secretLen)
	if _, err := rand.Read(b); err != nil {
		return Code{}, err
	}
	return Code{Name: name, Secret: hex.EncodeToString(b), CAHash: caHash}, nil
}

// String is the code's one line.
func (c Code) String() string {
	return strings.Join([]string{codePrefix, c.Name, c.Secret, strings.TrimPrefix(c.CAHash, "sha256:")}, ":")
}

// ParseCode reads a code's line.
func ParseCode(s string) (Code, error) {
	parts := strings.Split(strings.TrimSpace(s), ":")
	if len(parts) != 4 || parts[0] != codePrefix {
		return Code{}, fmt.Errorf("%w: want plj1:HOST:SECRET:CAHASH, as `peerlink join-code create` prints it", ErrBadCode)
	}
	c := Code{Name: parts[1], Secret: parts[2], CAHash: "sha256:" + parts[3]}
	if err := wire.CheckName("host", c.Name); err != nil {
		return Code{}, fmt.Errorf("%w: %w", ErrBadCode, err)
	}
	if err := CheckSecret(c.Secret); err != nil {
		return Code{}, err
	}
	if b, err := hex.DecodeString(parts[3]); err != nil || len(b) != sha256.Size {
		return Code{}, fmt.Errorf("%w: the CA hash is not 64 hex digits: copy the whole line `peerlink join-code create` printed", ErrBadCode)
	}
	return c, nil
}

// CheckSecret checks that s has the form of a code's secret.
func CheckSecret(s string) error {
	if b, err := hex.DecodeString(s); err != nil || len(b) != secretLen {
		return fmt.Errorf("%w: the secret is not %d hex digits: copy the whole line `peerlink join-code create` printed", ErrBadCode, 2*secretLen)
	}
	return nil
}

// SecretHash is what the hub stores of a secret: hub.db never holds a
// code that could be used.
func SecretHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
