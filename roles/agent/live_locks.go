package agent

import (
	"errors"
	"io/fs"

	"github.com/peerlink/peerlink/sync/lock"
	"github.com/peerlink/peerlink/wire"
)

// lockCopy locks this host's copy for a writer elsewhere. A path this host
// does not have needs no lock.
func (a *Agent) lockCopy(m *wire.Lock) error {
	s, err := a.session(m.Session)
	if err != nil {
		return err
	}
	if s.live == nil {
		return &wire.Error{Kind: wire.KindInvalid, Msg: "live synchronisation is not running on this host"}
	}
	if _, err := s.tree.Lstat(m.Path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return s.live.locker.Lock(m.Path, lock.Holder{Host: m.Holder, User: m.User})
}

// unlockCopies releases locks. Those of a session that is not attached
// (the host came back while the session waits for another host, and the
// grace period ended) are undone from the journal.
func (a *Agent) unlockCopies(m *wire.Unlock) error {
	s, err := a.session(m.Session)
	if err != nil {
		_, err := a.undoLocks(m.Session, "", m.Paths)
		return err
	}
	if s.live == nil {
		return nil
	}
	var first error
	for _, p := range m.Paths {
		if err := s.live.locker.Unlock(p); err != nil && first == nil {
			first = err
		}
	}
	return first
}
