package conflict

import (
	"strings"

	"github.com/peerlink/peerlink/wire"
)

// hostOps collects one host's ops by phase; Plan.Ops concatenates them.
type hostOps struct {
	renames, mkdirs, changes, deletes []wire.Op
}

// emitAll turns every row's fate into ops and index records, in tree order,
// so that mkdirs come parents first; deletions are reversed at the end.
func (e *engine) emitAll(p *Plan) {
	for r := range e.rows {
		row := &e.rows[r]
		switch row.fate {
		case fateKeep:
			e.emitKeep(r, p)
		case fateDelete:
			e.emitDelete(r)
		}
		if row.flags&fQuarantineIn != 0 && e.opt.DeleteQuarantined && e.present(r) == 0 {
			p.Released = append(p.Released, row.path)
		}
	}
}

// emitKeep brings every host to the winner's copy: fetch where the content
// is missing or differs, mkdir where a folder is missing, meta where only
// the modification time (files only; folder times are not synchronised) or
// the mode differ. Hosts that already match are the record's Hosts.
func (e *engine) emitKeep(r int, p *Plan) {
	path := e.rows[r].path
	win := e.winner(r)
	want := *e.cell(r, win)
	want.Path = path
	var from string
	holders := e.holdBuf[:0]
	holding := e.holdIdx[:0]
	for h := range e.nh() {
		c := e.cell(r, h)
		op := wire.Op{Path: path, Want: want, Have: c}
		switch {
		case c == nil && want.Kind == wire.KindDir:
			op.Kind = wire.OpMkdir
			e.out[h].mkdirs = append(e.out[h].mkdirs, op)
			continue
		case c == nil || !sameContent(c, &want):
			if from == "" {
				from = e.source(r, win, &want)
			}
			op.Kind, op.From = wire.OpFetch, from
			p.Files++
			p.Bytes += want.Size
		case c.Mode != want.Mode || want.Kind == wire.KindFile && e.mtime(c.Mtime) != e.mtime(want.Mtime):
			op.Kind = wire.OpMeta
		default:
			if !e.isMoved(r, h) {
				holders = append(holders, e.hosts[h])
				holding = append(holding, h)
			}
			continue
		}
		e.out[h].changes = append(e.out[h].changes, op)
	}
	e.holdBuf, e.holdIdx = holders, holding
	if e.table != nil {
		ent := e.cell(r, win)
		if *ent != want {
			ent = e.slab.add(want)
		}
		e.table.add(ent, holding)
		return
	}
	p.Index[path] = Record{Entry: want, Hosts: e.arena.hold(holders)}
}

// emitDelete removes row r from every host holding it, unless the host is
// removing the folder above it anyway: deleting a folder is one op.
func (e *engine) emitDelete(r int) {
	parent := int(e.rows[r].parent)
	for h := range e.nh() {
		c := e.cell(r, h)
		if c == nil || parent >= 0 && e.rows[parent].fate == fateDelete && e.cell(parent, h) != nil {
			continue
		}
		e.out[h].deletes = append(e.out[h].deletes, wire.Op{Kind: wire.OpDelete, Path: e.rows[r].path, Have: c})
	}
}

// quarantine adds row r to the plan's quarantines with every host's copy.
func (e *engine) quarantine(r int, why Reason, detail string) fate {
	q := Quarantine{Path: e.rows[r].path, Reason: why, Detail: detail, Copies: make([]Copy, e.nh())}
	for h, name := range e.hosts {
		q.Copies[h].Host = name
		if c := e.cell(r, h); c != nil {
			q.Copies[h].Entry = *c
		}
	}
	e.quar = append(e.quar, q)
	return fateQuarantine
}

// hostsIn names the hosts in any of the given states, for a detail line.
func (e *engine) hostsIn(states ...hstate) string {
	var names []string
	for h, s := range e.state {
		for _, want := range states {
			if s == want {
				names = append(names, e.hosts[h])
			}
		}
	}
	return strings.Join(names, ", ")
}

func (e *engine) kindDetail(r int) string {
	var files, dirs []string
	for h := range e.nh() {
		if c := e.cell(r, h); c != nil && c.Kind == wire.KindFile {
			files = append(files, e.hosts[h])
		} else if c != nil {
			dirs = append(dirs, e.hosts[h])
		}
	}
	return "a file on " + strings.Join(files, ", ") + ", a folder on " + strings.Join(dirs, ", ") +
		"; nothing below it is synchronised until it is resolved"
}

// hostArena hands out the index records' host lists from shared blocks,
// so that a million records do not make a million small allocations. Each
// list is capped, so appending to one never writes into the next.
type hostArena struct{ block []string }

func (a *hostArena) hold(hosts []string) []string {
	if len(hosts) == 0 {
		return nil
	}
	if cap(a.block)-len(a.block) < len(hosts) {
		a.block = make([]string, 0, max(4096, len(hosts)))
	}
	start := len(a.block)
	a.block = append(a.block, hosts...)
	return a.block[start:len(a.block):len(a.block)]
}
