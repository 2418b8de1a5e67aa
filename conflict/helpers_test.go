package conflict

import (
	"crypto/sha256"
	"slices"
	"strings"
	"testing"

	"github.com/peerlink/peerlink/wire"
)

// epoch is the time the table tests' clocks count from.
const epoch = int64(1_700_000_000) * second

// at is epoch plus s seconds (fractions allowed: at(10.5) is half past).
func at(s float64) int64 { return epoch + int64(s*1e9) }

// F is a file with mode 0644 whose content is the text c, modified at s.
func F(path, c string, s float64) wire.Entry {
	return wire.Entry{Path: path, Kind: wire.KindFile, Size: int64(len(c)), Mtime: at(s), Mode: 0o644, Hash: sha256.Sum256([]byte(c))}
}

// D is a folder with mode 0755.
func D(path string) wire.Entry {
	return wire.Entry{Path: path, Kind: wire.KindDir, Mtime: epoch, Mode: 0o755}
}

func mode(e wire.Entry, m uint32) wire.Entry { e.Mode = m; return e }

func nsTime(e wire.Entry, ns int64) wire.Entry { e.Mtime = ns; return e }

func dmtime(e wire.Entry, s float64) wire.Entry { e.Mtime = at(s); return e }

// R is a record of e held by hosts.
func R(e wire.Entry, hosts ...string) Record { return Record{Entry: e, Hosts: hosts} }

// tcase is one row of a table test. Expected ops per host are written as
// opStrings renders them, "; " between ops; a host not in ops expects none.
type tcase struct {
	name        string
	hosts       []string // default a, b
	opt         Options
	scans       map[string][]wire.Entry
	last        []Record
	quarantined []string
	held        []string
	clocks      map[string]Clock
	writing     map[string][]string

	ops      map[string]string
	quar     []string // "path reason"
	released []string
	warn     string              // a substring some warning must contain
	holders  map[string][]string // index path -> Hosts; nil value: not in the index
	// leftAlone are paths a malformed input makes the engine leave alone:
	// they need not converge, and must not change.
	leftAlone []string
}

func (tc tcase) input() Input {
	in := Input{Hosts: tc.hosts, Scans: tc.scans, Options: tc.opt, Clocks: tc.clocks, Writing: tc.writing}
	if in.Hosts == nil {
		in.Hosts = []string{"a", "b"}
	}
	if in.Options.Resolver == "" {
		in.Options.Resolver = LastModified
	}
	if tc.last != nil {
		in.Last = map[string]Record{}
		for _, r := range tc.last {
			in.Last[r.Entry.Path] = r
		}
	}
	if tc.quarantined != nil {
		in.Quarantined = map[string]bool{}
		for _, p := range tc.quarantined {
			in.Quarantined[p] = true
		}
	}
	if tc.held != nil {
		in.Held = map[string]bool{}
		for _, p := range tc.held {
			in.Held[p] = true
		}
	}
	return in
}

func runTable(t *testing.T, cases []tcase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.input()
			p := Resolve(in)
			for _, sorted := range []bool{true, false} {
				if diff := sameAsCompact(in, sorted); diff != "" {
					t.Errorf("the compact input (scans in tree order: %v) gives another plan:\n%s", sorted, diff)
				}
			}
			for _, h := range in.Hosts {
				if got := opStrings(p.Ops[h]); got != tc.ops[h] {
					t.Errorf("ops on %s:\n got  %s\n want %s", h, got, tc.ops[h])
				}
			}
			for h := range tc.ops {
				if !slices.Contains(in.Hosts, h) {
					t.Fatalf("bad test: ops for unknown host %s", h)
				}
			}
			var quar []string
			for _, q := range p.Quarantines {
				quar = append(quar, q.Path+" "+string(q.Reason))
				if len(q.Copies) != len(in.Hosts) {
					t.Errorf("quarantine %s has %d copies for %d hosts", q.Path, len(q.Copies), len(in.Hosts))
				}
			}
			if !slices.Equal(quar, tc.quar) {
				t.Errorf("quarantines:\n got  %q\n want %q", quar, tc.quar)
			}
			if !slices.Equal(p.Released, tc.released) {
				t.Errorf("released: got %q, want %q", p.Released, tc.released)
			}
			if tc.warn != "" && !slices.ContainsFunc(p.Warnings, func(w string) bool { return strings.Contains(w, tc.warn) }) {
				t.Errorf("no warning mentions %q; warnings: %q", tc.warn, p.Warnings)
			}
			if tc.warn == "" && len(p.Warnings) > 0 {
				t.Errorf("unexpected warnings: %q", p.Warnings)
			}
			for path, want := range tc.holders {
				rec, ok := p.Index[path]
				switch {
				case want == nil && ok:
					t.Errorf("index holds %s: %v", path, rec)
				case want != nil && !ok:
					t.Errorf("index lacks %s", path)
				case want != nil && !slices.Equal(rec.Hosts, want):
					t.Errorf("index %s hosts = %q, want %q", path, rec.Hosts, want)
				}
			}
			checkIn := in
			checkIn.Hosts = nil
			for _, h := range in.Hosts {
				if wire.CheckName("host", h) == nil && !slices.Contains(checkIn.Hosts, h) {
					checkIn.Hosts = append(checkIn.Hosts, h)
				}
			}
			if _, errs := checkPlan(checkIn, p, tc.leftAlone...); len(errs) > 0 {
				t.Errorf("plan does not converge:\n%s", strings.Join(errs, "\n"))
			}
			if again := Resolve(tc.input()); !equalPlans(p, again) {
				t.Errorf("a second Resolve of the same input gave another plan")
			}
		})
	}
}
