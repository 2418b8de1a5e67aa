package wire

import "fmt"

// A root's identity (issue 14: "a host that returns with a different
// root"). A host whose disk was replaced, or whose mount point now shows
// another folder, must not have its files merged as offline changes (nor
// its missing files as deletions). So the agent keeps, in the root's
// .peerlink area, a marker file holding a random id, and tells the hub,
// on every attach, that id with what identifies the folder on its file
// system; the hub compares them with what it recorded.

// MaxRootID bounds a root's id: the agent writes 32 hex digits.
const MaxRootID = 64

// RootIdentity is what an agent found of a session's root as it attached.
type RootIdentity struct {
	// ID is the root's marker, empty where the root has none.
	ID string `json:"id,omitempty"`
	// FS identifies the file system (statfs's f_fsid, derived from the
	// file system's UUID on ext4, xfs and btrfs; its device number where
	// that is zero), and Inode the root folder on it. Zero where the
	// platform cannot tell: then only ID is compared.
	FS    uint64 `json:"fs,omitempty"`
	Inode uint64 `json:"inode,omitempty"`
	// Empty: the root holds nothing the session takes (an unmounted
	// share's mount point, a root emptied by hand).
	Empty bool `json:"empty,omitempty"`
	// Created: this attach wrote the marker (the root had none).
	Created bool `json:"created,omitempty"`
}

// Attached answers an Attach: the agent attached the root it describes.
type Attached struct {
	Root RootIdentity `json:"root"`
}

func (*Attached) Type() Type        { return TypeAttached }
func (m *Attached) Validate() error { return CheckRootID(m.Root.ID) }

// CheckRootID checks a root's id: a few printable characters at most.
func CheckRootID(id string) error {
	if len(id) > MaxRootID {
		return fmt.Errorf("root id of %d bytes: at most %d", len(id), MaxRootID)
	}
	for _, c := range id {
		if c < '!' || c > '~' {
			return fmt.Errorf("root id %q: printable ASCII only", id)
		}
	}
	return nil
}
