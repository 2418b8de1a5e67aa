package conflict

import (
	"iter"
	"slices"
	"sort"

	"github.com/peerlink/peerlink/wire"
)

// Index is a plan's index in compact form (Input.Compact): the records in
// tree order, each an entry shared with the engine's cells (the winner's
// copy, usually the last index's record or a scan's entry) and the hosts
// holding it as a bit set over Hosts. A million records cost 16 MB plus
// the entries they share, against some 300 MB as a map of Records.
type Index struct {
	hosts []string // bit i of a record's mask is hosts[i]
	recs  []indexRec
	sets  map[uint64][]string // host lists by mask, shared and clipped
}

type indexRec struct {
	ent   *wire.Entry // Path set
	hosts uint64
}

// maxIndexHosts is how many hosts an Index's bit sets hold.
const maxIndexHosts = 64

func newIndex(hosts []string, n int) *Index {
	return &Index{hosts: hosts, recs: make([]indexRec, 0, n), sets: map[uint64][]string{}}
}

// add appends the record of ent held by the hosts (indexes into hosts);
// records come in tree order.
func (x *Index) add(ent *wire.Entry, holders []int) {
	var mask uint64
	for _, h := range holders {
		mask |= 1 << h
	}
	x.recs = append(x.recs, indexRec{ent: ent, hosts: mask})
}

// Len returns the number of records.
func (x *Index) Len() int {
	if x == nil {
		return 0
	}
	return len(x.recs)
}

// record returns the i-th record. Its Hosts are shared with every record
// of the same hosts, with their capacity clipped: append to them, do not
// modify them.
func (x *Index) record(i int) Record {
	r := x.recs[i]
	hosts, ok := x.sets[r.hosts]
	if !ok && r.hosts != 0 {
		for h := range x.hosts {
			if r.hosts&(1<<h) != 0 {
				hosts = append(hosts, x.hosts[h])
			}
		}
		hosts = slices.Clip(hosts)
		x.sets[r.hosts] = hosts
	}
	return Record{Entry: *r.ent, Hosts: hosts}
}

// At returns the i-th record in tree order, 0 <= i < Len(). Its Hosts
// are shared as record's are.
func (x *Index) At(i int) Record { return x.record(i) }

// Path returns the path of the i-th record, 0 <= i < Len().
func (x *Index) Path(i int) string { return x.recs[i].ent.Path }

// Get returns the record of path.
func (x *Index) Get(path string) (Record, bool) {
	if x == nil {
		return Record{}, false
	}
	i := sort.Search(len(x.recs), func(i int) bool { return comparePaths(x.recs[i].ent.Path, path) >= 0 })
	if i < len(x.recs) && x.recs[i].ent.Path == path {
		return x.record(i), true
	}
	return Record{}, false
}

// All yields every record in tree order.
func (x *Index) All() iter.Seq[Record] {
	return func(yield func(Record) bool) {
		for i := range x.Len() {
			if !yield(x.record(i)) {
				return
			}
		}
	}
}

// Lookup returns the plan's index record of path, from Index or Table.
func (p *Plan) Lookup(path string) (Record, bool) {
	if p.Table != nil {
		return p.Table.Get(path)
	}
	rec, ok := p.Index[path]
	return rec, ok
}

// Records yields the plan's index records, from Index (in no order) or
// Table (in tree order).
func (p *Plan) Records() iter.Seq[Record] {
	if p.Table != nil {
		return p.Table.All()
	}
	return func(yield func(Record) bool) {
		for _, rec := range p.Index {
			if !yield(rec) {
				return
			}
		}
	}
}

// IndexLen returns the number of the plan's index records.
func (p *Plan) IndexLen() int {
	if p.Table != nil {
		return p.Table.Len()
	}
	return len(p.Index)
}
