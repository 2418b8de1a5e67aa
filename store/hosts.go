package store

import (
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/peerlink/peerlink/wire"
)

// hostTable maps a session's index hosts to their bit in a record's mask.
type hostTable struct {
	names []string
	bit   map[string]int
	dirty bool
}

func newHostTable(names []string) *hostTable {
	t := &hostTable{bit: make(map[string]int, len(names))}
	for _, n := range names {
		if _, dup := t.bit[n]; !dup {
			t.bit[n] = len(t.names)
			t.names = append(t.names, n)
		}
	}
	return t
}

// loadHostTable reads a session's table, or starts one from the session's
// configured hosts.
func loadHostTable(tx *bolt.Tx, session string) (*hostTable, error) {
	if v := tx.Bucket(bucketIndexHosts).Get([]byte(session)); v != nil {
		names, err := parseHostTable(v)
		if err != nil {
			return nil, fmt.Errorf("host table: %w", err)
		}
		return newHostTable(names), nil
	}
	s, err := getSession(tx, session)
	if err != nil {
		return nil, err
	}
	t := newHostTable(s.HostNames())
	t.dirty = true
	return t, nil
}

// save writes the table if it changed.
func (t *hostTable) save(tx *bolt.Tx, session string) error {
	if !t.dirty {
		return nil
	}
	t.dirty = false
	return tx.Bucket(bucketIndexHosts).Put([]byte(session), appendHostTable(nil, t.names))
}

// setBit sets host's bit in mask, appending the host to the table if new.
func (t *hostTable) setBit(mask []byte, host string) ([]byte, error) {
	i, ok := t.bit[host]
	if !ok {
		if err := wire.CheckName("host", host); err != nil {
			return mask, err
		}
		if len(t.names) >= MaxIndexHosts {
			return mask, fmt.Errorf("more than %d hosts in the index", MaxIndexHosts)
		}
		i = len(t.names)
		t.bit[host] = i
		t.names = append(t.names, host)
		t.dirty = true
	}
	for len(mask) <= i/8 {
		mask = append(mask, 0)
	}
	mask[i/8] |= 1 << (i % 8)
	return mask, nil
}

// hostSets turns masks into host lists, sharing one slice per distinct set.
type hostSets struct {
	names []string
	sets  map[string][]string
}

func (s *hostSets) hosts(mask []byte) ([]string, error) {
	if hs, ok := s.sets[string(mask)]; ok {
		return hs, nil
	}
	var hs []string
	for i := range len(mask) * 8 {
		if mask[i/8]&(1<<(i%8)) == 0 {
			continue
		}
		if i >= len(s.names) {
			return nil, fmt.Errorf("%w: host bit %d beyond the host table of %d", ErrCorrupt, i, len(s.names))
		}
		hs = append(hs, s.names[i])
	}
	hs = slices.Clip(hs)
	s.sets[string(mask)] = hs
	return hs, nil
}
