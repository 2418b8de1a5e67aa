package wire

import (
	"fmt"
	"strings"
)

// TypeCredentials is the hub's list of enrolled agents' credentials, sent
// to a standalone broker that admits agents by certificate.
const TypeCredentials Type = "credentials"

// MaxCredentials bounds the hosts one Credentials lists: far more than
// the tens of agents one hub serves, small enough that the list costs a
// broker little to decode, keep and write.
const MaxCredentials = 10000

// maxSerialLen bounds a certificate serial in hex: 20 bytes (RFC 5280).
const maxSerialLen = 40

// Credentials tells a standalone broker which certificate each enrolled
// host holds now: the whole list, which replaces the broker's. The hub
// sends it when it connects and again whenever an agent joins, joins
// again or is revoked; only the hub, connected by its certificate, may
// send it, addressed to the broker (To "").
type Credentials struct {
	Agents []Credential `json:"agents"`
}

// Credential is one enrolled host's current certificate, by serial (hex,
// as certs.SerialOf); a certificate of that host with another serial was
// replaced by a later join. Revoked is when it was revoked (Unix
// nanoseconds), 0 while it is not.
type Credential struct {
	Name    string `json:"name"`
	Serial  string `json:"serial"`
	Revoked int64  `json:"revoked,omitempty"`
}

func (*Credentials) Type() Type { return TypeCredentials }
func (m *Credentials) Validate() error {
	if len(m.Agents) > MaxCredentials {
		return fmt.Errorf("credentials: %d hosts, at most %d", len(m.Agents), MaxCredentials)
	}
	seen := make(map[string]bool, len(m.Agents))
	for _, c := range m.Agents {
		if err := CheckName("host", c.Name); err != nil {
			return fmt.Errorf("credentials: %w", err)
		}
		if c.Name == HubName {
			return fmt.Errorf("credentials: an agent cannot be named %q", HubName)
		}
		if seen[c.Name] {
			return fmt.Errorf("credentials: host %s listed twice", c.Name)
		}
		seen[c.Name] = true
		if c.Serial == "" || len(c.Serial) > maxSerialLen || strings.Trim(c.Serial, "0123456789abcdef") != "" {
			return fmt.Errorf("credentials: host %s: serial %.48q is not 1 to %d lower-case hex digits", c.Name, c.Serial, maxSerialLen)
		}
		if c.Revoked < 0 {
			return fmt.Errorf("credentials: host %s: revoked time %d is negative", c.Name, c.Revoked)
		}
	}
	return nil
}
