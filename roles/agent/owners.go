package agent

import (
	"context"
	"fmt"
	"os/user"
	"strconv"
	"sync"

	"github.com/peerlink/peerlink/roles/broker"
	"github.com/peerlink/peerlink/wire"
)

// owners answers the hub's question of who owns this host's copies of a
// few paths (for the File Conflict List): one lstat each, inside the root.
func (a *Agent) owners(ctx context.Context, c *broker.Client, in broker.Incoming, m *wire.Owners) {
	s, err := a.session(m.Session) // only the hub asks: serve refuses anyone else
	if err != nil {
		a.fail(ctx, c, in, "owners", "", err)
		return
	}
	out := &wire.OwnersData{Users: make([]string, len(m.Paths))}
	for i, p := range m.Paths {
		if info, err := s.tree.Lstat(p); err == nil {
			out.Users[i] = a.names.name(info.Uid)
		}
	}
	if err := c.Reply(ctx, in, out, nil); err != nil {
		a.log.Debug().Err(err).Msg("owners reply")
	}
}

// userNames caches uid -> user name lookups, which may read /etc/passwd or
// ask a directory service; the zero value is ready to use.
type userNames struct {
	mu    sync.Mutex
	names map[uint32]string
}

// name returns uid's user name, or "uid N" if the host has none for it.
func (u *userNames) name(uid uint32) string {
	u.mu.Lock()
	defer u.mu.Unlock()
	if n, ok := u.names[uid]; ok {
		return n
	}
	n := fmt.Sprintf("uid %d", uid)
	if usr, err := user.LookupId(strconv.FormatUint(uint64(uid), 10)); err == nil && usr.Username != "" && len(usr.Username) <= wire.MaxOwnerLen {
		n = usr.Username
	}
	if u.names == nil {
		u.names = map[uint32]string{}
	}
	u.names[uid] = n
	return n
}
