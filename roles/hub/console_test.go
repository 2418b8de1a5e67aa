package hub

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// openTestHub opens a hub that does not run, with session "s" on hosts a
// and b.
func openTestHub(t testing.TB) *Hub {
	t.Helper()
	h, err := Open(Config{DataDir: t.TempDir(), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	if err := h.db.PutSession(store.Session{Name: "s", Hosts: []store.HostRoot{{Host: "a", Root: "/ra"}, {Host: "b", Root: "/rb"}}, TargetProtection: true}); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestEventsFilterAndPage(t *testing.T) {
	h := openTestHub(t)
	ready, take, cancel := h.Subscribe()
	defer cancel()
	evs := []store.Event{
		{Kind: "lock", Host: "a", Path: "docs/Report.txt", Msg: "opened for writing on a (anna)"},
		{Kind: "conflict", Path: "plan.txt", Msg: "modified at the same time on a and b"},
		{Kind: "conflict-resolved", Host: "b", Path: "plan.txt", User: "admin (console, 192.0.2.1)", Msg: "plan.txt resolved: the copy on b won"},
		{Kind: "unlock", Host: "a", Path: "docs/report.txt", Msg: "closed without changes"},
	}
	for _, e := range evs {
		if err := h.appendEvent("s", e); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-ready:
		if got := take(); !slices.Equal(got, []api.Notice{{Kind: api.NoticeEvents, Session: "s"}}) {
			t.Errorf("notices %+v, want one events notice of s", got)
		}
	default:
		t.Error("appending events sent no notice")
	}

	seqs := func(l []api.Event) []uint64 {
		out := []uint64{}
		for _, e := range l {
			out = append(out, e.Seq)
		}
		return out
	}
	for _, tc := range []struct {
		name string
		q    api.EventQuery
		want []uint64
	}{
		{"every event, newest first", api.EventQuery{}, []uint64{4, 3, 2, 1}},
		{"one kind", api.EventQuery{Kind: "conflict"}, []uint64{2}},
		{"text in a path, whatever its case", api.EventQuery{Q: "REPORT"}, []uint64{4, 1}},
		{"text in the user", api.EventQuery{Q: "console"}, []uint64{3}},
		{"text in the host", api.EventQuery{Q: "b", Kind: "conflict-resolved"}, []uint64{3}},
		{"kind and text together", api.EventQuery{Kind: "unlock", Q: "plan"}, []uint64{}},
		{"a page", api.EventQuery{Limit: 2, Before: 4}, []uint64{3, 2}},
	} {
		got, err := h.Events("s", tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(seqs(got), tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, seqs(got), tc.want)
		}
	}
	if _, err := h.Events("nope", api.EventQuery{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("events of an unknown session: %v, want not found", err)
	}
}

func TestNoticesAreCoalescedAndNeverBlock(t *testing.T) {
	h := openTestHub(t)
	ready, take, cancel := h.Subscribe()
	for range 10_000 {
		h.notify(api.NoticeSessions, "s")
		h.notify(api.NoticeLocks, "s")
	}
	<-ready
	got := take()
	slices.SortFunc(got, func(a, b api.Notice) int { return len(a.Kind) - len(b.Kind) })
	if !slices.Equal(got, []api.Notice{{Kind: "locks", Session: "s"}, {Kind: "sessions", Session: "s"}}) {
		t.Errorf("took %+v, want one locks and one sessions notice", got)
	}
	if more := take(); len(more) != 0 {
		t.Errorf("took %+v again", more)
	}
	cancel()
	h.notify(api.NoticeAgents, "") // no subscriber: nothing to do
	if n := len(h.notices.subs); n != 0 {
		t.Errorf("%d subscribers after cancel", n)
	}
}

func TestFlightsListLargeTransfers(t *testing.T) {
	var f flights
	big := wire.Entry{Path: "big.iso", Kind: wire.KindFile, Size: 3 << 20}
	big2 := wire.Entry{Path: "video.mp4", Kind: wire.KindFile, Size: 2 << 20}
	ops := []wire.Op{
		{Kind: wire.OpFetch, Path: "small.txt", From: "a", Want: wire.Entry{Path: "small.txt", Kind: wire.KindFile, Size: 100}},
		{Kind: wire.OpFetch, Path: big.Path, From: "a", Want: big},
		{Kind: wire.OpMkdir, Path: "d", Want: wire.Entry{Path: "d", Kind: wire.KindDir}},
		{Kind: wire.OpFetch, Path: big2.Path, From: "a", Want: big2},
	}
	f.start("b", ops)
	if l := f.list(); len(l) != 2 || l[0].Path != "big.iso" || l[0].From != "a" || l[0].To != "b" || l[0].Size != 3<<20 || l[0].Started.IsZero() {
		t.Fatalf("in flight: %+v, want the two large files", l)
	}
	f.progress("b", 3<<20+100) // the first file whole, the next begun
	f.progress("c", 1<<30)     // another host's bytes are not these
	if l := f.list(); l[0].Done != 3<<20 || l[1].Done != 100 {
		t.Errorf("after progress: %+v", l)
	}
	f.finish("b", []wire.OpResult{{Kind: wire.OpFetch, Path: "small.txt"}, {Kind: wire.OpFetch, Path: "big.iso"}})
	if l := f.list(); len(l) != 1 || l[0].Path != "video.mp4" {
		t.Errorf("after big.iso landed: %+v", l)
	}
	f.drop("b", ops)
	if l := f.list(); l != nil || f.n != 0 {
		t.Errorf("after the Apply ended: %+v (%d)", l, f.n)
	}
	many := make([]wire.Op, 2*api.MaxTransfers)
	for i := range many {
		many[i] = wire.Op{Kind: wire.OpFetch, Path: "f" + string(rune('a'+i%26)) + string(rune('a'+i/26)), Want: wire.Entry{Kind: wire.KindFile, Size: 1 << 20}}
	}
	f.start("b", many)
	if n := len(f.list()); n != api.MaxTransfers {
		t.Errorf("%d listed, want at most %d", n, api.MaxTransfers)
	}
	f.drop("b", many)
	if f.n != 0 {
		t.Errorf("%d left after drop", f.n)
	}
}

func TestDiffRefusesWhatIsNotTheSessions(t *testing.T) {
	h := openTestHub(t)
	for _, tc := range []struct {
		name       string
		session    string
		path, a, b string
		want       error
	}{
		{"an unknown session", "nope", "a.txt", "a", "b", ErrNotFound},
		{"a path outside the root", "s", "../etc/passwd", "a", "b", ErrInvalid},
		{"an absolute path", "s", "/etc/passwd", "a", "b", ErrInvalid},
		{"a host outside the session", "s", "a.txt", "a", "x", ErrInvalid},
		{"a stopped session", "s", "a.txt", "a", "b", ErrBusy},
	} {
		if _, err := h.Diff(tc.session, tc.path, tc.a, tc.b); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestAdminPasswordHashIsKept(t *testing.T) {
	h := openTestHub(t)
	if got, err := h.AdminPasswordHash(); got != nil || err != nil {
		t.Fatalf("a new hub has a password hash %q, %v", got, err)
	}
	if err := h.SetAdminPasswordHash([]byte("$2a$10$hash")); err != nil {
		t.Fatal(err)
	}
	if got, err := h.AdminPasswordHash(); string(got) != "$2a$10$hash" || err != nil {
		t.Errorf("hash %q, %v", got, err)
	}
}

func TestOwnersAreNotAskedOfAStoppedSession(t *testing.T) {
	h := openTestHub(t)
	list := []api.Conflict{{Path: "a.txt", Since: time.Now(), Copies: []api.Copy{{Host: "a", Exists: true}, {Host: "b"}}}}
	h.fillOwners("s", list) // no run, no broker: must not block
	if list[0].Copies[0].User != "" {
		t.Errorf("owner %q of a copy nobody was asked about", list[0].Copies[0].User)
	}
}
