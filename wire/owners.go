package wire

import "fmt"

// MaxOwnerLen bounds one name in an OwnersData.
const MaxOwnerLen = 256

// Owners asks an agent who owns its copies of a few paths of a session:
// the hub's File Conflict List shows it beside each copy. Only the hub
// asks, and only for listed conflicts, so scans and entries need not carry
// an owner for every path.
type Owners struct {
	Session string   `json:"session"`
	Paths   []string `json:"paths"`
}

func (*Owners) Type() Type { return TypeOwners }
func (m *Owners) Validate() error {
	if err := CheckName("session", m.Session); err != nil {
		return err
	}
	if len(m.Paths) == 0 || len(m.Paths) > MaxBatch {
		return fmt.Errorf("owners: %d paths, want 1 to %d", len(m.Paths), MaxBatch)
	}
	for _, p := range m.Paths {
		if err := CheckPath(p); err != nil {
			return err
		}
	}
	return nil
}

// OwnersData answers Owners: one name per path, in the request's order; a
// user name, "uid N" where the host has no name for the owner, or "" where
// the path does not exist or cannot be looked at.
type OwnersData struct {
	Users []string `json:"users"`
}

func (*OwnersData) Type() Type { return TypeOwnersData }
func (m *OwnersData) Validate() error {
	if len(m.Users) > MaxBatch {
		return fmt.Errorf("owners data: %d names exceed the batch limit %d", len(m.Users), MaxBatch)
	}
	for _, u := range m.Users {
		if len(u) > MaxOwnerLen {
			return fmt.Errorf("owners data: a name of %d bytes exceeds %d", len(u), MaxOwnerLen)
		}
	}
	return nil
}
