package conflict

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/peerlink/peerlink/wire"
)

// bytesInput decodes fuzz bytes into an Input, malformed parts included:
// invalid host names, paths with "..", entries with bad modes or kinds,
// paths without their folders, duplicates, records under other keys.
type bytesInput struct {
	b []byte
}

func (d *bytesInput) next() byte {
	if len(d.b) == 0 {
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

var fuzzElems = []string{"a", "b", "A", "\u00e9", "e\u0301", "c", "B", "..", "", "d"}

func (d *bytesInput) path() string {
	n := 1 + int(d.next()%3)
	elems := make([]string, n)
	for i := range elems {
		c := d.next()
		elems[i] = fuzzElems[int(c)%len(fuzzElems)]
		if c >= 250 { // rarely an invalid element
			elems[i] = fuzzElems[7+int(c)%2]
		} else if elems[i] == ".." || elems[i] == "" {
			elems[i] = "x"
		}
	}
	return strings.Join(elems, "/")
}

func (d *bytesInput) entry() wire.Entry {
	e := wire.Entry{Path: d.path()}
	k := d.next()
	switch k % 8 {
	case 0, 1, 2:
		e.Kind = wire.KindDir
		e.Mode = 0o755
	case 7:
		e.Kind = wire.EntryKind(k % 4) // sometimes invalid
		e.Mode = 0o7777
	default:
		e.Kind = wire.KindFile
		c := d.next() % 6
		e.Size = int64(c)
		e.Hash[0] = c + 1
		e.Mode = 0o644 ^ uint32(d.next()%2)<<4
	}
	e.Mtime = epoch + int64(int8(d.next()))*second/2 + int64(d.next()%3)*1e6
	return e
}

func decodeInput(data []byte) Input {
	d := &bytesInput{b: data}
	names := []string{"h0", "h1", "h2", "h3", "h4", "bad name", "h1"}
	in := Input{Scans: map[string][]wire.Entry{}, Last: map[string]Record{}, Quarantined: map[string]bool{}}
	nh := 1 + int(d.next()%5)
	for i := range nh {
		h := names[i]
		if c := d.next(); c >= 240 {
			h = names[5+int(c)%2]
		}
		in.Hosts = append(in.Hosts, h)
	}
	flags := d.next()
	in.Options = Options{
		Resolver:                   []Resolver{LastModified, Manual, "", "bogus"}[flags%4],
		TruncateMs:                 flags&4 != 0,
		QuarantineOfflineConflicts: flags&8 != 0,
		DeleteQuarantined:          flags&16 != 0,
		OfflineRenameDetection:     flags&32 != 0,
		OfflineDeleteDetection:     flags&64 != 0,
	}
	if m := d.next(); m%3 == 0 {
		in.Options.DeleteMaster = names[int(m/3)%6]
	}
	for len(d.b) > 0 {
		switch op := d.next(); op % 8 {
		case 0, 1, 2, 3, 4:
			h := names[int(op/8)%6]
			in.Scans[h] = append(in.Scans[h], d.entry())
		case 5, 6:
			e := d.entry()
			var hosts []string
			for i, m := 0, d.next(); i < 6; i++ {
				if m&(1<<i) != 0 {
					hosts = append(hosts, names[i])
				}
			}
			key := e.Path
			if op >= 240 {
				key = d.path()
			}
			in.Last[key] = Record{Entry: e, Hosts: hosts}
		default:
			in.Quarantined[d.path()] = op%16 < 8
		}
	}
	return in
}

func FuzzResolve(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{2, 0, 0, 0, 0, 3, 1, 9, 4, 1, 8, 1, 3, 10, 0, 0})
	f.Add([]byte("\x03\x00\x00\x00\x7f\x00\x00\x01\x03\x02\x01\x00\x08\x01\x03\x04\x01\x00\x05\x02\x01\x00\x06\x01\x01\x01\x05\xff\x07\x01\x02"))
	w := &world{rng: rand.New(rand.NewPCG(7, 7))}
	for range 8 {
		var b []byte
		for range 64 {
			b = append(b, byte(w.rng.IntN(256)))
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in := decodeInput(data)
		p := Resolve(in)
		if !equalPlans(p, Resolve(decodeInput(data))) {
			t.Fatal("two Resolves of one input differ")
		}
		if errs := planInvariants(in, p); len(errs) > 0 {
			t.Fatalf("%s\n%s", describe(in), strings.Join(errs, "\n"))
		}
	})
}

// planInvariants are what holds for any input, however malformed.
func planInvariants(in Input, p Plan) []string {
	var errs []string
	var files, bytes int64
	for h, ops := range p.Ops {
		if wire.CheckName("host", h) != nil || !slices.Contains(in.Hosts, h) {
			errs = append(errs, fmt.Sprintf("ops for %q, which is not a valid participant", h))
		}
		for _, op := range ops {
			if err := op.Validate(); err != nil {
				errs = append(errs, fmt.Sprintf("%s: invalid op: %v", h, err))
			}
			if op.Kind == wire.OpFetch {
				files++
				bytes += op.Want.Size
				if op.From == h || !slices.Contains(in.Hosts, op.From) {
					errs = append(errs, fmt.Sprintf("%s: fetch %s from %q", h, op.Path, op.From))
				}
			}
		}
	}
	if files != p.Files || bytes != p.Bytes {
		errs = append(errs, "Files/Bytes do not match the fetch ops")
	}
	for path, rec := range p.Index {
		if err := rec.Entry.Validate(); err != nil || rec.Entry.Path != path {
			errs = append(errs, fmt.Sprintf("index %s: bad record %+v", path, rec.Entry))
		}
	}
	for _, q := range p.Quarantines {
		if wire.CheckPath(q.Path) != nil {
			errs = append(errs, "quarantine of an invalid path "+q.Path)
		}
	}
	_, simErrs := simulate(in, p)
	return append(errs, simErrs...)
}
