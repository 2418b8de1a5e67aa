package conflict

import (
	"fmt"
	"slices"

	"github.com/peerlink/peerlink/wire"
)

// Resolve decides, from every host's scan, the last index and the options,
// what each host must do for all of them to hold the same tree. It is a
// pure function: the same Input always gives the same Plan, whatever the
// order of the scans' entries or of the maps, and it performs no I/O.
//
// The rules, each cited where it is implemented, are summarised in the
// package documentation. Its arbitrary choice among equal candidates
// (the seed: "a winner will be selected arbitrarily") is made
// deterministic: among copies with equally late modification times and
// different contents, the content held by the most hosts wins, then the
// content whose copy is on the host first in Input.Hosts (see winner).
//
// Cost: O(n log n) in the number of entries, one row and one pointer per
// host for each distinct path, and no allocation per path beyond the
// index it returns.
func Resolve(in Input) Plan {
	e := &engine{opt: in.Options}
	switch e.opt.Resolver {
	case "":
		e.opt.Resolver = LastModified
	case LastModified, Manual:
	default:
		e.warn.add("resolver", fmt.Sprintf("unknown resolver %q: treated as %q, so that nothing is overwritten", e.opt.Resolver, Manual))
		e.opt.Resolver = Manual
	}
	e.setHosts(&in)
	e.setClocks(&in)
	e.setWriting(&in)
	p := Plan{Ops: map[string][]wire.Op{}}
	nh := e.nh()
	if nh == 0 {
		p.Index = map[string]Record{}
		if in.Compact {
			p.Index, p.Table = nil, newIndex(nil, 0)
		}
		p.Warnings = e.warn.list()
		return p
	}
	e.state = make([]hstate, nh)
	e.out = make([]hostOps, nh)
	e.build(&in)
	e.findClashes()
	e.detectRenames()
	e.settleClashes()
	e.decideAll()

	keep := 0
	for i := range e.rows {
		if e.rows[i].fate == fateKeep {
			keep++
		}
	}
	if in.Compact && nh <= maxIndexHosts {
		e.table = newIndex(e.hosts, keep)
		p.Table = e.table
	} else {
		p.Index = make(map[string]Record, keep)
	}
	e.emitAll(&p)
	for h, name := range e.hosts {
		o := &e.out[h]
		n := len(o.renames) + len(o.mkdirs) + len(o.changes) + len(o.deletes)
		if n == 0 {
			continue
		}
		ops := make([]wire.Op, 0, n)
		ops = append(ops, o.renames...)
		ops = append(ops, o.mkdirs...)
		ops = append(ops, o.changes...)
		slices.Reverse(o.deletes)
		ops = append(ops, o.deletes...)
		p.Ops[name] = ops
	}
	p.Quarantines = e.quar
	p.Warnings = e.warn.list()
	return p
}
