package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/peerlink/peerlink/conflict"
	"github.com/peerlink/peerlink/wire"
)

// Hosts away from a running session (issue 14). The session goes on with
// the hosts that are connected, and the index follows them: a record the
// others change no longer says what the away host holds. So, for each
// host marked away, every index write keeps, in the same transaction, the
// record a path had before the first change made to it since the host
// left: the away host's catch-up judges its copy against that, as a
// session start judges every copy against the last index. The ledger is
// sparse (only what changed while the host was away) and its size is the
// count of paths the host has to catch up.
//
// Layout: away/SESSION/HOST/PATH -> JSON AwayBase, and
// away/SESSION/HOST/"\x00since" -> RFC 3339 time. No path holds a NUL.

var bucketAway = []byte("away")

var keySince = []byte("\x00since")

// AwayBase is what the index held at a path when it first changed after a
// host left: Had is false where it held nothing.
type AwayBase struct {
	Had    bool            `json:"had"`
	Record conflict.Record `json:"record,omitzero"`
}

// MarkAway starts the ledger of host in session; a host already marked
// keeps its first time and ledger.
func (h *Hub) MarkAway(session, host string, since time.Time) error {
	err := h.db.Update(func(tx *bolt.Tx) error {
		sb, err := tx.Bucket(bucketAway).CreateBucketIfNotExists([]byte(session))
		if err != nil {
			return err
		}
		if sb.Bucket([]byte(host)) != nil {
			return nil
		}
		hb, err := sb.CreateBucket([]byte(host))
		if err != nil {
			return err
		}
		return hb.Put(keySince, []byte(since.UTC().Format(time.RFC3339Nano)))
	})
	if err != nil {
		return fmt.Errorf("store: mark %s away from %s: %w", host, session, err)
	}
	return nil
}

// AwayHosts returns the hosts marked away from session, with since when.
func (h *Hub) AwayHosts(session string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := h.db.View(func(tx *bolt.Tx) error {
		sb := subBucket(tx, bucketAway, session)
		if sb == nil {
			return nil
		}
		return sb.ForEachBucket(func(k []byte) error {
			t, _ := time.Parse(time.RFC3339Nano, string(sb.Bucket(k).Get(keySince)))
			out[string(k)] = t
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: away hosts of %s: %w", session, err)
	}
	return out, nil
}

// AwayLedger returns host's ledger in session: the paths changed since it
// left, with what the index held there before.
func (h *Hub) AwayLedger(session, host string) (map[string]AwayBase, error) {
	out := map[string]AwayBase{}
	err := h.db.View(func(tx *bolt.Tx) error {
		hb := awayBucket(tx, session, host)
		if hb == nil {
			return nil
		}
		return hb.ForEach(func(k, v []byte) error {
			if bytes.Equal(k, keySince) {
				return nil
			}
			var b AwayBase
			if err := json.Unmarshal(v, &b); err != nil {
				return fmt.Errorf("%w: away ledger %s: %v", ErrCorrupt, k, err)
			}
			out[string(k)] = b
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: away ledger of %s in %s: %w", host, session, err)
	}
	return out, nil
}

// AwayCount returns how many paths host's ledger holds.
func (h *Hub) AwayCount(session, host string) (int, error) {
	n := 0
	err := h.db.View(func(tx *bolt.Tx) error {
		hb := awayBucket(tx, session, host)
		if hb == nil {
			return nil
		}
		n = hb.Stats().KeyN - 1 // the since key
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: away ledger of %s in %s: %w", host, session, err)
	}
	return max(n, 0), nil
}

// NoteAway records base for host at path unless its ledger has the path
// already: a change the hub made before it marked the host away (an op
// to it that failed as it left).
func (h *Hub) NoteAway(session, host, path string, base AwayBase) error {
	err := h.db.Update(func(tx *bolt.Tx) error {
		hb := awayBucket(tx, session, host)
		if hb == nil || hb.Get([]byte(path)) != nil {
			return nil
		}
		v, err := json.Marshal(base)
		if err != nil {
			return err
		}
		return hb.Put([]byte(path), v)
	})
	if err != nil {
		return fmt.Errorf("store: away ledger of %s in %s: %w", host, session, err)
	}
	return nil
}

// ClearAway ends host's ledger in session (every host's with host ""):
// it is live again, or a session start scans every host anyway.
func (h *Hub) ClearAway(session, host string) error {
	err := h.db.Update(func(tx *bolt.Tx) error {
		if host == "" {
			return deleteSub(tx, bucketAway, session)
		}
		sb := subBucket(tx, bucketAway, session)
		if sb == nil || sb.Bucket([]byte(host)) == nil {
			return nil
		}
		return sb.DeleteBucket([]byte(host))
	})
	if err != nil {
		return fmt.Errorf("store: clear away %s from %s: %w", host, session, err)
	}
	return nil
}

func awayBucket(tx *bolt.Tx, session, host string) *bolt.Bucket {
	sb := subBucket(tx, bucketAway, session)
	if sb == nil {
		return nil
	}
	return sb.Bucket([]byte(host))
}

// awayLedgers are the ledgers an index write transaction keeps: nil when
// no host of the session is away, which costs one lookup.
type awayLedgers struct {
	hosts []*bolt.Bucket
	sets  hostSets
}

func loadAwayLedgers(tx *bolt.Tx, session string, names []string) *awayLedgers {
	sb := subBucket(tx, bucketAway, session)
	if sb == nil {
		return nil
	}
	var l awayLedgers
	_ = sb.ForEachBucket(func(k []byte) error {
		l.hosts = append(l.hosts, sb.Bucket(k))
		return nil
	})
	if len(l.hosts) == 0 {
		return nil
	}
	l.sets = hostSets{names: names, sets: map[string][]string{}}
	return &l
}

// note keeps prior, the raw record at path before this write (nil: none),
// in every ledger that has nothing at path yet.
func (l *awayLedgers) note(path []byte, prior []byte) error {
	if l == nil {
		return nil
	}
	var v []byte
	for _, hb := range l.hosts {
		if hb.Get(path) != nil {
			continue
		}
		if v == nil {
			base := AwayBase{}
			if prior != nil {
				rv, err := parseRecord(prior)
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				hosts, err := l.sets.hosts(rv.mask)
				if err != nil {
					return fmt.Errorf("%s: %w", path, err)
				}
				base = AwayBase{Had: true, Record: conflict.Record{Entry: rv.entry(string(path)), Hosts: hosts}}
			}
			var err error
			if v, err = json.Marshal(base); err != nil {
				return err
			}
		}
		if err := hb.Put(bytes.Clone(path), v); err != nil {
			return err
		}
	}
	return nil
}

// CaughtUp is one op of a catch-up that host applied: it now holds Entry
// at Path (nil: it deleted the path).
type CaughtUp struct {
	Path  string
	Entry *wire.Entry
}

// CatchUpApplied records, in one transaction, the ops of a catch-up that
// host applied, against what the index holds now: the live hosts may have
// changed a path meanwhile. Where the index still holds what host now
// holds (or, for a deletion, nothing), host joins the record and the path
// leaves its ledger; where it changed, the ledger says host holds the op's
// result, so that its next catch-up round brings it the change.
func (h *Hub) CatchUpApplied(session, host string, done []CaughtUp, participants []string) error {
	err := h.db.Update(func(tx *bolt.Tx) error {
		hb := awayBucket(tx, session, host)
		w, err := newIndexWriter(tx, session)
		if err != nil {
			return err
		}
		w.away = nil // the ledger of host is written here, as the ops say
		for _, d := range done {
			k := []byte(d.Path)
			v := w.b.Get(k)
			current := false
			if v != nil && d.Entry != nil {
				rv, err := parseRecord(v)
				if err != nil {
					return fmt.Errorf("%s: %w", d.Path, err)
				}
				e := rv.entry(d.Path)
				current = e == *d.Entry
				if current {
					w.mask = append(w.mask[:0], rv.mask...)
					if w.mask, err = w.hosts.setBit(w.mask, host); err != nil {
						return fmt.Errorf("%s: %w", d.Path, err)
					}
					rv.mask = w.mask
					w.buf = appendRecord(w.buf[:0], &rv)
					if err := w.b.Put(k, w.values.copy(w.buf)); err != nil {
						return err
					}
				}
			} else if v == nil && d.Entry == nil {
				current = true
			}
			if hb == nil {
				continue
			}
			if current {
				if err := hb.Delete(k); err != nil {
					return err
				}
				continue
			}
			base := AwayBase{}
			if d.Entry != nil {
				base = AwayBase{Had: true, Record: conflict.Record{Entry: *d.Entry, Hosts: participants}}
			}
			b, err := json.Marshal(base)
			if err != nil {
				return err
			}
			if err := hb.Put(bytes.Clone(k), b); err != nil {
				return err
			}
		}
		return w.hosts.save(tx, session)
	})
	if err != nil {
		return fmt.Errorf("store: catch-up of %s in %s: %w", host, session, err)
	}
	return nil
}

// PutAway sets host's ledger at the given paths, replacing what it held:
// a catch-up round notes what host holds where its ops are yet to land.
func (h *Hub) PutAway(session, host string, bases map[string]AwayBase) error {
	err := h.db.Update(func(tx *bolt.Tx) error {
		hb := awayBucket(tx, session, host)
		if hb == nil {
			return nil
		}
		return putBases(hb, bases)
	})
	if err != nil {
		return fmt.Errorf("store: away ledger of %s in %s: %w", host, session, err)
	}
	return nil
}

// ResetAway replaces host's whole ledger with bases, keeping its time:
// a catch-up round merged everything it held.
func (h *Hub) ResetAway(session, host string, bases map[string]AwayBase) error {
	err := h.db.Update(func(tx *bolt.Tx) error {
		sb := subBucket(tx, bucketAway, session)
		if sb == nil || sb.Bucket([]byte(host)) == nil {
			return nil
		}
		since := bytes.Clone(sb.Bucket([]byte(host)).Get(keySince))
		if err := sb.DeleteBucket([]byte(host)); err != nil {
			return err
		}
		hb, err := sb.CreateBucket([]byte(host))
		if err != nil {
			return err
		}
		if err := hb.Put(keySince, since); err != nil {
			return err
		}
		return putBases(hb, bases)
	})
	if err != nil {
		return fmt.Errorf("store: away ledger of %s in %s: %w", host, session, err)
	}
	return nil
}

// putBases writes bases into a host's ledger bucket.
func putBases(hb *bolt.Bucket, bases map[string]AwayBase) error {
	for p, b := range bases {
		v, err := json.Marshal(b)
		if err != nil {
			return err
		}
		if err := hb.Put([]byte(p), v); err != nil {
			return err
		}
	}
	return nil
}
