package store

import (
	"encoding/binary"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/wire"
)

func openHub(t testing.TB, path string) *Hub {
	t.Helper()
	h, err := OpenHub(path)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// newHub opens a hub in a temp dir with session "s" on hosts a and b.
func newHub(t testing.TB) (*Hub, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hub.db")
	h := openHub(t, path)
	t.Cleanup(func() { h.Close() })
	if err := h.PutSession(Session{Name: "s", Hosts: []HostRoot{{"a", "/ra"}, {"b", "/rb"}}}); err != nil {
		t.Fatal(err)
	}
	return h, path
}

func TestOpenHubRefusesASecondOpener(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	h := openHub(t, path)
	defer h.Close()
	start := time.Now()
	_, err := OpenHub(path)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: err %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), "hub data dir in use by another peerlink hub?") {
		t.Errorf("message %q does not tell the administrator what is wrong", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second open took %v, want about 1s", d)
	}
}

func TestOpenRefusesANewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hub.db")
	openHub(t, path).Close()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keySchema, binary.BigEndian.AppendUint32(nil, SchemaVersion+1))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenHub(path); !errors.Is(err, ErrSchema) {
		t.Fatalf("open: err %v, want ErrSchema", err)
	}
}

func TestOpenRefusesTheOtherRole(t *testing.T) {
	dir := t.TempDir()
	openHub(t, filepath.Join(dir, "hub.db")).Close()
	if _, err := OpenAgent(filepath.Join(dir, "hub.db")); !errors.Is(err, ErrWrongRole) {
		t.Errorf("hub.db opened as an agent db: %v", err)
	}
	a, err := OpenAgent(filepath.Join(dir, "agent.db"))
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	if _, err := OpenHub(filepath.Join(dir, "agent.db")); !errors.Is(err, ErrWrongRole) {
		t.Error("agent.db opened as a hub db")
	}
}

func TestSessionsPersistAcrossReopen(t *testing.T) {
	h, path := newHub(t)
	s := Session{
		Name:             "docs",
		Hosts:            []HostRoot{{"site-a", "/srv/a"}, {"site-b", "/srv/b"}},
		Exclude:          []string{"*.tmp"},
		Options:          conflict.Options{Resolver: conflict.LastModified, TruncateMs: true, DeleteMaster: "site-a"},
		TargetProtection: true,
		ProtectDays:      7,
	}
	if err := h.PutSession(s); err != nil {
		t.Fatal(err)
	}
	st := SessionState{Phase: "synced", Started: time.Unix(100, 5).UTC(), Desired: DesiredRunning}
	if err := h.PutSessionState("docs", st); err != nil {
		t.Fatal(err)
	}
	if err := h.PutSessionState("docs", SessionState{Desired: "paused"}); err == nil {
		t.Error("an unknown desired state was stored")
	}
	if err := h.PutSessionState("nope", st); !errors.Is(err, ErrNotFound) {
		t.Errorf("state of an unknown session: err %v, want ErrNotFound", err)
	}
	h.Close()

	h = openHub(t, path)
	defer h.Close()
	got, err := h.Session("docs")
	if err != nil {
		t.Fatal(err)
	}
	if got.Created.IsZero() {
		t.Error("Created not stamped")
	}
	s.Created = got.Created
	if got.Name != s.Name || len(got.Hosts) != 2 || got.Hosts[1] != s.Hosts[1] || got.Options != s.Options ||
		got.Exclude[0] != "*.tmp" || !got.TargetProtection || got.ProtectDays != 7 {
		t.Errorf("session after reopen: %+v, want %+v", got, s)
	}
	// Editing keeps Created.
	got.ProtectDays = 9
	created := got.Created
	got.Created = time.Time{}
	if err := h.PutSession(got); err != nil {
		t.Fatal(err)
	}
	if again, _ := h.Session("docs"); !again.Created.Equal(created) || again.ProtectDays != 9 {
		t.Errorf("edited session: %+v", again)
	}
	gotSt, err := h.SessionState("docs")
	if err != nil || !gotSt.Started.Equal(st.Started) || gotSt.Desired != DesiredRunning || gotSt.Phase != "synced" {
		t.Errorf("state after reopen: %+v, %v", gotSt, err)
	}
	all, err := h.Sessions()
	if err != nil || len(all) != 2 || all[0].Name != "docs" || all[1].Name != "s" {
		t.Errorf("sessions: %+v, %v", all, err)
	}
	if _, err := h.Session("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown session: err %v, want ErrNotFound", err)
	}
	if err := h.PutSession(Session{Name: "../x"}); err == nil {
		t.Error("a session named ../x was stored")
	}
}

func TestDeleteSessionDropsEverything(t *testing.T) {
	h, _ := newHub(t)
	must(t, h.PutSessionState("s", SessionState{Phase: "x"}))
	must(t, h.PutIndex("s", []conflict.Record{fileRec("f", 1, "a")}))
	must(t, h.PutQuarantines("s", []Quarantine{{Quarantine: conflict.Quarantine{Path: "f", Reason: conflict.ReasonManual}}}))
	if _, err := h.AppendEvents("s", Event{Kind: "start"}); err != nil {
		t.Fatal(err)
	}
	must(t, h.DeleteSession("s"))
	must(t, h.DeleteSession("s"))
	if _, err := h.Session("s"); !errors.Is(err, ErrNotFound) {
		t.Errorf("session: %v", err)
	}
	if _, err := h.SessionState("s"); !errors.Is(err, ErrNotFound) {
		t.Errorf("state: %v", err)
	}
	// Recreated, it starts empty.
	must(t, h.PutSession(Session{Name: "s"}))
	idx, _ := h.LoadIndex("s")
	qs, _ := h.Quarantines("s")
	evs, _ := h.Events("s", 0, 0)
	if len(idx)+len(qs)+len(evs) != 0 {
		t.Errorf("recreated session has %d records, %d quarantines, %d events", len(idx), len(qs), len(evs))
	}
}

func TestQuarantinesPersistAndKeepTheirCreatedTime(t *testing.T) {
	h, path := newHub(t)
	q := conflict.Quarantine{Path: "docs/plan é.odt", Reason: conflict.ReasonOfflineEdit, Copies: []conflict.Copy{{Host: "a"}, {Host: "b"}}}
	first := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	must(t, h.PutQuarantines("s", []Quarantine{{Quarantine: q, Created: first}, {Quarantine: conflict.Quarantine{Path: "z", Reason: conflict.ReasonManual}}}))
	q.Detail = "seen again"
	must(t, h.PutQuarantines("s", []Quarantine{{Quarantine: q}}))
	if err := h.PutQuarantines("nope", []Quarantine{{Quarantine: q}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("quarantine in an unknown session: %v", err)
	}
	if err := h.PutQuarantines("s", []Quarantine{{Quarantine: conflict.Quarantine{Path: "../x"}}}); err == nil {
		t.Error("quarantine of ../x stored")
	}
	h.Close()
	h = openHub(t, path)
	defer h.Close()
	qs, err := h.Quarantines("s")
	if err != nil || len(qs) != 2 {
		t.Fatalf("quarantines: %+v, %v", qs, err)
	}
	if qs[0].Path != q.Path || qs[0].Detail != "seen again" || !qs[0].Created.Equal(first) || len(qs[0].Copies) != 2 {
		t.Errorf("first: %+v", qs[0])
	}
	if qs[1].Path != "z" || qs[1].Created.IsZero() {
		t.Errorf("second: %+v", qs[1])
	}
	must(t, h.DeleteQuarantines("s", []string{"z", "absent"}))
	if _, err := h.Quarantine("s", "z"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted quarantine: %v", err)
	}
	if got, err := h.Quarantine("s", q.Path); err != nil || got.Reason != conflict.ReasonOfflineEdit {
		t.Errorf("quarantine: %+v, %v", got, err)
	}
}

func TestEventsAreNewestFirstAndTrimmed(t *testing.T) {
	h, path := newHub(t)
	evs := make([]Event, EventRetention+50)
	for i := range evs {
		evs[i] = Event{Kind: "transfer", Host: "a", Path: "f", Msg: "done"}
	}
	// Two calls: trimming works within one transaction and across them.
	got, err := h.AppendEvents("s", evs[:30]...)
	if err != nil || len(got) != 30 || got[0].Seq != 1 || got[29].Seq != 30 || got[0].Time.IsZero() {
		t.Fatalf("append: %d events, first %+v, %v", len(got), got[0], err)
	}
	if _, err := h.AppendEvents("s", evs[30:]...); err != nil {
		t.Fatal(err)
	}
	h.Close()
	h = openHub(t, path)
	defer h.Close()
	all, err := h.Events("s", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	last := uint64(EventRetention + 50)
	if len(all) != EventRetention || all[0].Seq != last || all[len(all)-1].Seq != 51 {
		t.Fatalf("kept %d events, newest %d, oldest %d; want %d, %d, 51", len(all), all[0].Seq, all[len(all)-1].Seq, EventRetention, last)
	}
	page, _ := h.Events("s", 3, 0)
	if len(page) != 3 || page[0].Seq != last || page[2].Seq != last-2 {
		t.Errorf("limit 3: %+v", page)
	}
	since, _ := h.Events("s", 100, last-2)
	if len(since) != 2 || since[1].Seq != last-1 {
		t.Errorf("since %d: %+v", last-2, since)
	}
	more, err := h.AppendEvents("s", Event{Kind: "stop", User: "admin"})
	if err != nil || more[0].Seq != last+1 {
		t.Errorf("sequence after reopen: %+v, %v", more, err)
	}
	if _, err := h.AppendEvents("nope", Event{Kind: "x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("event of an unknown session: %v", err)
	}
	if _, err := h.AppendEvents(HubLog, Event{Kind: "agent-up", Host: "a"}); err != nil {
		t.Fatal(err)
	}
	if hub, _ := h.Events(HubLog, 0, 0); len(hub) != 1 || hub[0].Host != "a" {
		t.Errorf("hub log: %+v", hub)
	}
}

func TestAgentsSeenAndSettings(t *testing.T) {
	h, path := newHub(t)
	seen := time.Unix(1000, 0).UTC()
	must(t, h.PutAgentSeen(AgentSeen{Name: "b", Version: "1.0", Addr: "10.0.0.2:5000", LastSeen: seen}))
	must(t, h.PutAgentSeen(AgentSeen{Name: "a", Version: "1.0", LastSeen: seen}))
	must(t, h.PutAgentSeen(AgentSeen{Name: "b", Version: "1.1", LastSeen: seen.Add(time.Hour)}))
	must(t, h.PutSetting("admin.hash", []byte{0, 1, 2}))
	must(t, h.PutSetting("empty", nil))
	h.Close()
	h = openHub(t, path)
	defer h.Close()
	as, err := h.AgentsSeen()
	if err != nil || len(as) != 2 || as[0].Name != "a" || as[1].Version != "1.1" || !as[1].LastSeen.Equal(seen.Add(time.Hour)) {
		t.Errorf("agents: %+v, %v", as, err)
	}
	if v, err := h.Setting("admin.hash"); err != nil || string(v) != "\x00\x01\x02" {
		t.Errorf("setting: %q, %v", v, err)
	}
	if v, err := h.Setting("empty"); err != nil || len(v) != 0 {
		t.Errorf("empty setting: %q, %v", v, err)
	}
	if _, err := h.Setting("absent"); !errors.Is(err, ErrNotFound) {
		t.Errorf("absent setting: %v", err)
	}
	must(t, h.DeleteSetting("admin.hash"))
	if _, err := h.Setting("admin.hash"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted setting: %v", err)
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestFindEventsPagesAndFilters(t *testing.T) {
	h, _ := newHub(t)
	var evs []Event
	for i := range 20 {
		kind := "lock"
		if i%2 == 1 {
			kind = "transfer"
		}
		evs = append(evs, Event{Kind: kind, Path: strings.Repeat("x", i%3+1)})
	}
	if _, err := h.AppendEvents("s", evs...); err != nil {
		t.Fatal(err)
	}
	seqs := func(l []Event) []uint64 {
		var out []uint64
		for _, e := range l {
			out = append(out, e.Seq)
		}
		return out
	}
	transfers := func(e *Event) bool { return e.Kind == "transfer" }
	for _, tc := range []struct {
		name   string
		before uint64
		limit  int
		match  func(*Event) bool
		want   []uint64
	}{
		{"the newest page", 0, 3, nil, []uint64{20, 19, 18}},
		{"a page before a sequence number", 18, 3, nil, []uint64{17, 16, 15}},
		{"before a number past the newest", 100, 2, nil, []uint64{20, 19}},
		{"before the oldest is empty", 1, 3, nil, nil},
		{"a filter applies before the limit", 0, 3, transfers, []uint64{20, 18, 16}},
		{"a filter pages too", 16, 2, transfers, []uint64{14, 12}},
		{"no limit reads every event", 5, 0, nil, []uint64{4, 3, 2, 1}},
	} {
		got, err := h.FindEvents("s", tc.before, tc.limit, tc.match)
		if err != nil {
			t.Fatal(err)
		}
		if g := seqs(got); !slices.Equal(g, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, g, tc.want)
		}
	}
	if got, err := h.FindEvents("nope", 0, 10, nil); err != nil || len(got) != 0 {
		t.Errorf("events of a session without a log: %v, %v", got, err)
	}
}

// A folder renamed while the session runs carries the conflicts listed in
// it (make chaos, seed 71049): the quarantines at and below the folder are
// at the new place, their copies named there, with their Created times;
// the others, a name that only begins like the folder's among them, stay.
func TestMoveQuarantinesCarriesTheFoldersConflicts(t *testing.T) {
	h, _ := newHub(t)
	first := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	copies := func(p string) []conflict.Copy {
		return []conflict.Copy{{Host: "a", Entry: wire.Entry{Path: p, Kind: wire.KindFile}}, {Host: "b", Entry: wire.Entry{Path: p, Kind: wire.KindFile}}}
	}
	var qs []Quarantine
	for _, p := range []string{"a/c", "a/c/f2.txt", "a/c/d/x", "a/cc", "b"} {
		qs = append(qs, Quarantine{Quarantine: conflict.Quarantine{Path: p, Reason: conflict.ReasonConcurrentEdit, Copies: copies(p)}, Created: first})
	}
	must(t, h.PutQuarantines("s", qs))
	n, err := h.MoveQuarantines("s", "a/c", "b/moved")
	if err != nil || n != 3 {
		t.Fatalf("moved %d, %v; want 3", n, err)
	}
	got, err := h.Quarantines("s")
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, q := range got {
		paths = append(paths, q.Path)
		for _, c := range q.Copies {
			if c.Entry.Path != q.Path {
				t.Errorf("%s: a copy named %s", q.Path, c.Entry.Path)
			}
		}
		if !q.Created.Equal(first) {
			t.Errorf("%s: created %v, want %v", q.Path, q.Created, first)
		}
	}
	want := []string{"a/cc", "b", "b/moved", "b/moved/d/x", "b/moved/f2.txt"}
	if !slices.Equal(paths, want) {
		t.Errorf("listed %v, want %v", paths, want)
	}
	if _, err := h.MoveQuarantines("s", "b", "b/x"); err == nil {
		t.Error("a move into itself done")
	}
}
