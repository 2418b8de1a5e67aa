package hub

import (
	"testing"

	"github.com/peerlink/peerlink/wire"
)

// A rename moves the lags at and below its old path with the index's
// records, their copies named at the new paths (make chaos, seed 5533).
func TestMoveLags(t *testing.T) {
	f := func(p string) *wire.Entry { return &wire.Entry{Path: p, Kind: wire.KindFile, Size: 1} }
	r := &run{lags: map[string]map[string]*lag{
		"a/notes.md": {"site-a": {have: f("a/notes.md")}, "site-b": {have: nil}},
		"ab/x":       {"site-a": {have: f("ab/x")}},
		"b/y":        {"site-b": {have: f("b/y")}},
	}}
	r.moveLags("a", "e")
	want := map[string]string{"e/notes.md": "site-a", "ab/x": "site-a", "b/y": "site-b"}
	if len(r.lags) != len(want) {
		t.Fatalf("lags at %v, want at %v", r.lags, want)
	}
	for p, h := range want {
		l := r.lags[p][h]
		if l == nil || l.have.Path != p {
			t.Errorf("%s: lag of %s %+v, want its copy named %s", p, h, l, p)
		}
	}
	if l, ok := r.lags["e/notes.md"]["site-b"]; !ok || l.have != nil {
		t.Errorf("e/notes.md: site-b's lag %+v (present %v), want it moved, holding nothing", l, ok)
	}
}
