package hub

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/web/api"
	"github.com/peerlink/peerlink/wire"
)

// A hub restart while offices are away (issue 14). A resumed session
// whose hosts are not all back within the hub's host wait starts with
// those that are, if it was synchronised before: they go live first, and
// each other host is caught up as it returns (catchup.go), its ledger
// started as the start-up changes the index. An explicit start, a first
// start and every later attempt still wait for every host. A host back
// from being away, scanned by a start-up, is judged against what it held
// when it left (its ledger), as its catch-up would have judged it.

var errHasIndex = errors.New("the index has a record")

// startWithout reports whether the start-up goes on without the hosts
// that waitErr says are missing, and notes them in r.absent.
func (r *run) startWithout(waitErr error) bool {
	var we *wire.Error
	if !r.resumed || !errors.As(waitErr, &we) || we.Kind != wire.KindUnreachable || r.h.client() == nil {
		return false
	}
	err := r.h.db.ForEachIndex(r.cfg.Name, "", func(conflict.Record) error { return errHasIndex })
	if !errors.Is(err, errHasIndex) {
		return false // never synchronised: every host's first scan is needed
	}
	absent := map[string]bool{}
	for _, h := range r.hostNames() {
		if !r.h.connected(h) {
			absent[h] = true
		}
	}
	if len(absent) == len(r.cfg.Hosts) {
		return false
	}
	r.absent = absent
	missing := slices.Sorted(maps.Keys(absent))
	r.log.Warn().Strs("away", missing).Msg("resumed without the hosts that are not back: they are caught up as they return")
	r.event("resumed", "", "", fmt.Sprintf("resumed after the hub's restart without %s, not back after %s: the others go live first, and each is caught up as it returns",
		strings.Join(missing, ", "), r.h.cfg.HostWait))
	return true
}

// startHosts returns the hosts the start-up attaches and scans.
func (r *run) startHosts() []api.HostRoot {
	return slices.DeleteFunc(slices.Clone(r.cfg.Hosts), func(hr api.HostRoot) bool { return r.absent[hr.Host] })
}

// participants returns the names of the hosts the start-up merges.
func (r *run) participants() []string {
	return slices.DeleteFunc(r.hostNames(), func(h string) bool { return r.absent[h] })
}

// awayBases marks the absent hosts away, before the merge changes the
// index, and returns last as the merge judges the hosts: where a host
// back from being away has a ledger, its paths are judged against what it
// held when it left (the first such host's, in name order, where two
// have one). Those ledgers are cleared by clearBack once merged.
func (r *run) awayBases(last map[string]conflict.Record) (map[string]conflict.Record, error) {
	marked, err := r.h.db.AwayHosts(r.cfg.Name)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for h := range r.absent {
		if err := r.h.db.MarkAway(r.cfg.Name, h, now); err != nil {
			return nil, err
		}
	}
	judged := last
	done := map[string]bool{}
	participants := r.participants()
	for _, h := range slices.Sorted(maps.Keys(marked)) {
		if !slices.Contains(participants, h) {
			continue // still away, or no longer a host of the session
		}
		ledger, err := r.h.db.AwayLedger(r.cfg.Name, h)
		if err != nil {
			return nil, err
		}
		if len(ledger) > 0 && len(done) == 0 {
			judged = maps.Clone(last)
		}
		for p, b := range ledger {
			if done[p] {
				continue
			}
			done[p] = true
			if b.Had {
				judged[p] = b.Record
			} else {
				delete(judged, p)
			}
		}
	}
	return judged, nil
}

// clearBack ends the ledgers of the hosts this start-up merged.
func (r *run) clearBack() error {
	marked, err := r.h.db.AwayHosts(r.cfg.Name)
	if err != nil {
		return err
	}
	for h := range marked {
		if !r.absent[h] {
			if err := r.h.db.ClearAway(r.cfg.Name, h); err != nil {
				return err
			}
		}
	}
	return nil
}
