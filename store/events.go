package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// EventRetention is how many events each log keeps; appending trims the
// oldest beyond it in the same transaction.
const EventRetention = 10_000

// HubLog is the session name of the hub-wide event log (agents coming and
// going): no session can have it.
const HubLog = ""

// hubLogBucket names the hub-wide log; CheckName refuses a leading '-'.
const hubLogBucket = "-"

// Event is one entry of a session's event log.
type Event struct {
	Seq  uint64    `json:"seq"` // set by AppendEvents, increasing per log
	Time time.Time `json:"time"`
	Kind string    `json:"kind"`
	Host string    `json:"host,omitempty"`
	Path string    `json:"path,omitempty"`
	Msg  string    `json:"msg,omitempty"`
	User string    `json:"user,omitempty"`
}

func eventLogName(session string) []byte {
	if session == HubLog {
		return []byte(hubLogBucket)
	}
	return []byte(session)
}

// AppendEvents appends events to a session's log (HubLog for the hub-wide
// one) in one transaction and returns them with Seq set, and Time set to now
// where it was zero. Concurrent callers share transactions; a caller with
// many events should pass them together.
func (h *Hub) AppendEvents(session string, evs ...Event) ([]Event, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	now := time.Now()
	out := make([]Event, len(evs))
	err := h.db.Batch(func(tx *bolt.Tx) error {
		if session != HubLog {
			if err := sessionExists(tx, session); err != nil {
				return err
			}
		}
		b, err := tx.Bucket(bucketEvents).CreateBucketIfNotExists(eventLogName(session))
		if err != nil {
			return err
		}
		var last uint64
		for i, e := range evs {
			if last, err = b.NextSequence(); err != nil {
				return err
			}
			e.Seq = last
			if e.Time.IsZero() {
				e.Time = now
			}
			data, err := json.Marshal(e)
			if err != nil {
				return err
			}
			if err := b.Put(seqKey(last), data); err != nil {
				return err
			}
			out[i] = e
		}
		return trimEvents(b, last)
	})
	if err != nil {
		return nil, fmt.Errorf("store: events %s: %w", session, err)
	}
	return out, nil
}

// trimEvents deletes the events older than the last EventRetention.
func trimEvents(b *bolt.Bucket, last uint64) error {
	if last <= EventRetention {
		return nil
	}
	cutoff := seqKey(last - EventRetention + 1)
	c := b.Cursor()
	for k, _ := c.First(); k != nil && string(k) < string(cutoff); k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return err
		}
	}
	return nil
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

// Events returns up to limit events of a session's log (all kept if limit
// <= 0) whose Seq is greater than since, newest first.
func (h *Hub) Events(session string, limit int, since uint64) ([]Event, error) {
	var out []Event
	err := h.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEvents).Bucket(eventLogName(session))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			if len(k) != 8 {
				return fmt.Errorf("%w: event key of %d bytes", ErrCorrupt, len(k))
			}
			seq := binary.BigEndian.Uint64(k)
			if seq <= since {
				break
			}
			var e Event
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("event %d: %w: %v", seq, ErrCorrupt, err)
			}
			e.Seq = seq
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: events %s: %w", session, err)
	}
	return out, nil
}

// FindEvents returns up to limit events of a session's log whose Seq is
// below before (0: no bound) and that match accepts (nil: all), newest
// first. It reads at most the EventRetention events kept.
func (h *Hub) FindEvents(session string, before uint64, limit int, match func(*Event) bool) ([]Event, error) {
	out := []Event{}
	err := h.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEvents).Bucket(eventLogName(session))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		var k, v []byte
		switch {
		case before == 0:
			k, v = c.Last()
		default:
			// Seek finds the first event at or after before: the one
			// wanted is the one preceding it, or the newest if none is.
			if k, _ = c.Seek(seqKey(before)); k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		}
		for ; k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			if len(k) != 8 {
				return fmt.Errorf("%w: event key of %d bytes", ErrCorrupt, len(k))
			}
			seq := binary.BigEndian.Uint64(k)
			var e Event
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("event %d: %w: %v", seq, ErrCorrupt, err)
			}
			e.Seq = seq
			if match == nil || match(&e) {
				out = append(out, e)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: events %s: %w", session, err)
	}
	return out, nil
}
