package store

import bolt "go.etcd.io/bbolt"

// releaseEvery is how many records a walk or a rewrite of a whole index
// reads between two releaseMapped: some 8 MB of hub.db.
const releaseEvery = 1 << 16

// mappedPacer calls releaseMapped every releaseEvery records of one
// transaction's walk, so that the pages the walk read do not pile up in
// the resident set until it ends.
type mappedPacer struct {
	db *bolt.DB
	tx *bolt.Tx
	n  int
}

// step counts a record.
func (p *mappedPacer) step() {
	if p.n++; p.n%releaseEvery == 0 {
		releaseMapped(p.db, p.tx)
	}
}

// done releases what the walk read since the last step that did.
func (p *mappedPacer) done() { releaseMapped(p.db, p.tx) }
