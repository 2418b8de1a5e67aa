package hub

import (
	"errors"
	"strings"
	"testing"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/web/api"
)

// A definition stored by an older hub, which did not bound protect days or
// know its own data folder, is judged again at start and refused there,
// naming the field and how to fix it; the session stays stopped.
func TestStartRechecksAStoredDefinition(t *testing.T) {
	h := openTestHub(t)
	for _, tc := range []struct {
		name string
		s    store.Session
		says []string
	}{
		{"protect days beyond the bound", store.Session{Name: "p", Hosts: []store.HostRoot{{Host: "a", Root: "/ra"}, {Host: "b", Root: "/rb"}},
			TargetProtection: true, ProtectDays: 999999}, []string{"session p cannot start", "protect_days", "from 1 to 3650", "peerlink session set p"}},
		{"a root that is the hub's data", store.Session{Name: "d", Hosts: []store.HostRoot{{Host: "a", Root: "/ra"}, {Host: "b", Root: h.cfg.DataDir}},
			TargetProtection: true}, []string{"session d cannot start", "hosts[1].root", "is the hub's data folder"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := h.db.PutSession(tc.s); err != nil {
				t.Fatal(err)
			}
			_, err := h.Start(tc.s.Name, "test")
			if !errors.Is(err, api.ErrInvalid) {
				t.Fatalf("start: %v, want an ErrInvalid", err)
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("start: %v; does not say %q", err, s)
				}
			}
			if st, err := h.Session(tc.s.Name); err != nil || st.Status.Phase != api.PhaseStopped {
				t.Errorf("after the refused start: %+v, %v; want stopped", st.Status, err)
			}
		})
	}
}
