package hub

import (
	"context"
	"sync"
	"time"

	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// ownersTimeout bounds the wait for agents' answers while listing
// conflicts: a slow or old agent leaves its copies without an owner.
const ownersTimeout = 2 * time.Second

// owners remembers who owns each host's copy of each listed conflict, as
// its agent said (wire.Owners). A conflict's owners are asked for once,
// the first time it is listed while its session runs, and kept until it
// leaves the list; a path listed again after a resolution is a new
// conflict (a new Since) and is asked for again.
type owners struct {
	mu        sync.Mutex
	bySession map[string]map[ownerKey]ownerOf
}

type ownerKey struct{ path, host string }

type ownerOf struct {
	since time.Time // the conflict's Since when asked
	user  string
}

// fillOwners sets Copy.User in list, asking the agents for what it does
// not know yet. Best effort: an agent that cannot answer leaves it empty.
func (h *Hub) fillOwners(session string, list []api.Conflict) {
	o := &h.owners
	o.mu.Lock()
	known := o.bySession[session]
	kept := make(map[ownerKey]ownerOf, len(known))
	ask := map[string][]string{} // host -> paths
	for _, cf := range list {
		for _, cp := range cf.Copies {
			if !cp.Exists {
				continue
			}
			k := ownerKey{cf.Path, cp.Host}
			if got, ok := known[k]; ok && got.since.Equal(cf.Since) {
				kept[k] = got
			} else if len(ask[cp.Host]) < wire.MaxBatch {
				ask[cp.Host] = append(ask[cp.Host], cf.Path)
			}
		}
	}
	o.mu.Unlock()

	if len(ask) > 0 && h.attached(session) {
		if c := h.client(); c != nil {
			ctx, cancel := context.WithTimeout(context.Background(), ownersTimeout)
			var mu sync.Mutex
			var wg sync.WaitGroup
			since := map[string]time.Time{}
			for _, cf := range list {
				since[cf.Path] = cf.Since
			}
			for host, paths := range ask {
				if !h.connected(host) {
					continue
				}
				wg.Go(func() {
					users := make([]string, len(paths))
					in, err := c.Request(ctx, host, &wire.Owners{Session: session, Paths: paths}, nil)
					if m, ok := in.Msg.(*wire.OwnersData); err == nil && ok && len(m.Users) == len(paths) {
						users = m.Users
					} else {
						h.log.Debug().Err(err).Str("host", host).Msg("owners of conflicted copies")
					}
					// An answer or not, the conflict is not asked about again.
					mu.Lock()
					defer mu.Unlock()
					for i, p := range paths {
						kept[ownerKey{p, host}] = ownerOf{since: since[p], user: users[i]}
					}
				})
			}
			wg.Wait()
			cancel()
		}
	}

	for i := range list {
		for j := range list[i].Copies {
			cp := &list[i].Copies[j]
			cp.User = kept[ownerKey{list[i].Path, cp.Host}].user
		}
	}
	o.mu.Lock()
	if o.bySession == nil {
		o.bySession = map[string]map[ownerKey]ownerOf{}
	}
	if len(kept) == 0 {
		delete(o.bySession, session)
	} else {
		o.bySession[session] = kept
	}
	o.mu.Unlock()
}

// attached reports whether session's hosts have it attached, so they can
// answer questions about its files.
func (h *Hub) attached(session string) bool {
	r := h.run(session)
	if r == nil {
		return false
	}
	switch r.phase() {
	case api.PhaseScanning, api.PhaseMerging, api.PhaseSyncing, api.PhaseRunning:
		return true
	}
	return false
}
