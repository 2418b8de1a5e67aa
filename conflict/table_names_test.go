package conflict

import (
	"slices"
	"testing"

	"github.com/peerlink/peerlink/wire"
)

func TestResolveNameClashes(t *testing.T) {
	nfc, nfd := "caf\u00e9.txt", "cafe\u0301.txt"
	runTable(t, []tcase{{
		name:  "names differing only in case on two hosts are both quarantined and neither is copied",
		scans: scans{"a": {F("Readme.txt", "1", 1)}, "b": {F("README.txt", "2", 1)}},
		quar:  []string{"README.txt name-clash", "Readme.txt name-clash"},
		warn:  "README.txt, Readme.txt",
	}, {
		name:  "a name written in NFC on one host and in NFD on another is a clash",
		scans: scans{"a": {F(nfc, "1", 1)}, "b": {F(nfd, "1", 1)}},
		quar:  []string{nfd + " name-clash", nfc + " name-clash"},
		warn:  "Unicode form",
	}, {
		name:  "Greek final and medial sigma in different cases are a clash",
		scans: scans{"a": {F("ΣΟΦΟΣ", "1", 1)}, "b": {F("σοφος", "1", 1)}},
		quar:  []string{"ΣΟΦΟΣ name-clash", "σοφος name-clash"},
		warn:  "differ only in case",
	}, {
		name: "names differing only in case that every host holds are synchronised, with a warning",
		scans: scans{
			"a": {F("README", "r2", 20), F("readme", "x", 1)},
			"b": {F("README", "r1", 10), F("readme", "x", 1)},
		},
		ops:  ops{"b": "fetch README <- a"},
		warn: "README, readme",
	}, {
		name: "a clash member every host holds keeps synchronising while the newcomer is quarantined",
		scans: scans{
			"a": {F("readme", "v2", 20)},
			"b": {F("readme", "v1", 10), F("README", "other", 30)},
		},
		ops:  ops{"b": "fetch readme <- a"},
		quar: []string{"README name-clash"},
		warn: "README, readme",
	}, {
		name:  "two folders whose names differ only in case are quarantined and nothing below them is copied",
		scans: scans{"a": {D("Docs"), F("Docs/x", "1", 1)}, "b": {D("docs"), F("docs/y", "2", 1)}, "c": {F("z", "z", 1)}},
		hosts: abc,
		ops:   ops{"a": "fetch z <- c", "b": "fetch z <- c"},
		quar:  []string{"Docs name-clash", "docs name-clash"},
		warn:  "Docs, docs",
	}, {
		name:  "names that only look alike are not a clash",
		scans: scans{"a": {F("resume", "1", 1)}, "b": {F("r\u00e9sum\u00e9", "2", 1)}},
		ops:   ops{"a": "fetch r\u00e9sum\u00e9 <- b", "b": "fetch resume <- a"},
	}})
}

func TestResolveMalformedInput(t *testing.T) {
	x := F("x", "v1", 10)
	bad := mode(x, 0o7777)
	runTable(t, []tcase{{
		name:  "a file on one host and a folder on another is quarantined and nothing below it is touched",
		hosts: abc,
		scans: scans{"a": {F("k", "file", 1)}, "b": {D("k"), F("k/y", "y", 1)}},
		quar:  []string{"k file-folder-mismatch"},
	}, {
		name:  "nothing below a file-folder mismatch is deleted, even with delete detection",
		opt:   Options{OfflineDeleteDetection: true},
		scans: scans{"a": {F("k", "file", 20)}, "b": {D("k"), F("k/y", "y", 1)}},
		last:  synced(R(D("k"), "a", "b"), R(F("k/y", "y", 1), "a", "b")),
		quar:  []string{"k file-folder-mismatch"},
	}, {
		name:      "a scan listing a path without its folder leaves that folder alone",
		scans:     scans{"a": {F("d/x", "1", 1), F("y", "y", 1)}},
		ops:       ops{"b": "fetch y <- a"},
		warn:      "without its folder d",
		leftAlone: []string{"d"},
	}, {
		name:      "a scan listing a path below a file leaves the file alone",
		scans:     scans{"a": {F("x", "1", 1), F("x/y", "2", 1)}},
		warn:      "below the file x",
		leftAlone: []string{"x"},
	}, {
		name:      "a path listed twice in one scan is left alone",
		scans:     scans{"a": {F("x", "1", 1), F("x", "2", 2)}},
		warn:      "listed twice",
		leftAlone: []string{"x"},
	}, {
		name:      "an invalid scan entry is left alone rather than taken for a deletion",
		opt:       Options{OfflineDeleteDetection: true},
		scans:     scans{"a": {bad}, "b": {x}},
		last:      synced(R(x, "a", "b")),
		warn:      "beyond the permission bits",
		leftAlone: []string{"x"},
	}, {
		name:      "an entry whose path is not a watch-set path is ignored",
		scans:     scans{"a": {F("../x", "1", 1), F("ok", "2", 1)}},
		ops:       ops{"b": "fetch ok <- a"},
		warn:      `".."`,
		leftAlone: []string{"../x"},
	}, {
		name:  "a scan from a host outside the session is ignored",
		scans: scans{"a": {x}, "z": {F("y", "y", 1)}},
		ops:   ops{"b": "fetch x <- a"},
		warn:  "not a participant",
	}, {
		name:  "a repeated host is counted once",
		hosts: []string{"a", "b", "a"},
		scans: scans{"a": {x}},
		ops:   ops{"b": "fetch x <- a"},
		warn:  "listed twice",
	}, {
		name:  "an invalid host name is ignored",
		hosts: []string{"a", "b", "no/slash"},
		scans: scans{"a": {x}},
		ops:   ops{"b": "fetch x <- a"},
		warn:  "ignored",
	}})
}

// TestResolveRecordUnderOtherKey feeds a record whose map key differs from
// its entry's path, which the table's record list cannot express.
func TestResolveRecordUnderOtherKey(t *testing.T) {
	x := F("x", "v1", 10)
	in := Input{
		Hosts:   []string{"a", "b"},
		Scans:   map[string][]wire.Entry{"b": {x}},
		Last:    map[string]Record{"x": R(F("y", "v1", 10), "a", "b")},
		Options: Options{OfflineDeleteDetection: true},
	}
	p := Resolve(in)
	if got := opStrings(p.Ops["a"]); got != "fetch x <- b" {
		t.Errorf("ops on a = %q: a record under the wrong key must not count as a deletion", got)
	}
	if len(p.Warnings) != 1 {
		t.Errorf("warnings = %q, want one about the record", p.Warnings)
	}
}

func TestOpsCarryWantAndHave(t *testing.T) {
	old, win := F("x", "old", 10), mode(F("x", "new", 20), 0o600)
	in := Input{
		Hosts: []string{"a", "b", "c"},
		Scans: map[string][]wire.Entry{
			"a": {old, D("d")},
			"b": {win, D("d"), F("gone", "g", 1)},
			"c": {mode(F("x", "new", 20), 0o644)},
		},
		Last:    map[string]Record{"gone": R(F("gone", "g", 1), "a", "b")},
		Options: Options{OfflineDeleteDetection: true},
	}
	p := Resolve(in)
	a, b, c := p.Ops["a"], p.Ops["b"], p.Ops["c"]
	if len(a) != 1 || a[0].Kind != wire.OpFetch || a[0].Want != win || a[0].Have == nil || *a[0].Have != old || a[0].From != "b" {
		t.Errorf("a: want one fetch of b's copy over a's old one, got %+v", a)
	}
	if len(b) != 1 || b[0].Kind != wire.OpDelete || b[0].Have == nil || b[0].Have.Path != "gone" {
		t.Errorf("b: want one delete that names b's copy, got %+v", b)
	}
	if len(c) != 2 || c[0].Kind != wire.OpMkdir || c[0].Have != nil || c[0].Want != D("d") ||
		c[1].Kind != wire.OpMeta || c[1].Want != win || c[1].Have.Mode != 0o644 {
		t.Errorf("c: want mkdir d with no Have, then meta x to mode 0600, got %+v", c)
	}
	if rec := p.Index["x"]; rec.Entry != win || !slices.Equal(rec.Hosts, []string{"b"}) {
		t.Errorf("index x = %+v, want b's copy held by b", rec)
	}
}

func TestIndexHostListsDoNotShareStorage(t *testing.T) {
	p := Resolve(Input{Hosts: []string{"a", "b"}, Scans: map[string][]wire.Entry{
		"a": {F("x", "1", 1), F("y", "2", 1)}, "b": {F("x", "1", 1), F("y", "2", 1)},
	}})
	x := append(p.Index["x"].Hosts, "c")
	if y := p.Index["y"].Hosts; !slices.Equal(y, []string{"a", "b"}) || len(x) != 3 {
		t.Errorf("appending to x's hosts changed y's: %q", y)
	}
}
