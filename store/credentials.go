package store

import (
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Agents' credentials in hub.db: the join codes the admin created (by the
// SHA-256 of their secret, never the secret) and the client certificate
// each enrolled host holds (by host name). The buckets are created on
// first use, so a hub.db of an older release needs no migration.
var (
	bucketJoinCodes  = []byte("joincodes")
	bucketAgentCerts = []byte("agentcerts")
)

// Why a join code is refused; the hub turns them into messages that say
// what to do.
var (
	ErrCodeUnknown = errors.New("unknown join code")
	ErrCodeUsed    = errors.New("join code already used")
	ErrCodeExpired = errors.New("join code expired")
)

// usedCodesKept is how long a used or expired code is remembered, so that
// its reuse is called a reuse rather than an unknown code.
const usedCodesKept = 30 * 24 * time.Hour

// JoinCode is a stored join code.
type JoinCode struct {
	Name    string    `json:"name"` // the host it enrols
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	Used    time.Time `json:"used,omitzero"`
}

// AgentCert is the credential an enrolled host holds: the serial number of
// its current client certificate. A join replaces it, so the previous
// certificate of the host no longer admits anyone.
type AgentCert struct {
	Name    string    `json:"name"`
	Serial  string    `json:"serial"`
	Issued  time.Time `json:"issued"`
	Revoked time.Time `json:"revoked,omitzero"`
}

// PutJoinCode stores a new join code under the hash of its secret, and
// forgets codes used or expired long ago.
func (h *Hub) PutJoinCode(secretHash string, c JoinCode) error {
	err := h.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketJoinCodes)
		if err != nil {
			return err
		}
		var stale [][]byte
		cut := time.Now().Add(-usedCodesKept)
		err = b.ForEach(func(k, v []byte) error {
			var old JoinCode
			if _, err := getJSON(b, k, &old); err == nil && old.Expires.Before(cut) {
				stale = append(stale, append([]byte(nil), k...))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range stale {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return putJSON(b, []byte(secretHash), c)
	})
	if err != nil {
		return fmt.Errorf("store: put join code: %w", err)
	}
	return nil
}

// UseJoinCode takes the join code of secretHash once: it marks it used and
// returns it, or fails with ErrCodeUnknown, ErrCodeUsed or ErrCodeExpired.
// issue runs within the same transaction, with the code's host name, and
// returns the credential recorded for that host; if it fails the code is
// not used up.
func (h *Hub) UseJoinCode(secretHash string, now time.Time, issue func(name string) (AgentCert, error)) (JoinCode, error) {
	var c JoinCode
	err := h.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketJoinCodes)
		found, err := getJSON(b, []byte(secretHash), &c)
		switch {
		case err != nil:
			return err
		case !found:
			return ErrCodeUnknown
		case !c.Used.IsZero():
			return fmt.Errorf("%w (by %s at %s)", ErrCodeUsed, c.Name, c.Used.Format(time.RFC3339))
		case now.After(c.Expires):
			return fmt.Errorf("%w at %s", ErrCodeExpired, c.Expires.Format(time.RFC3339))
		}
		cert, err := issue(c.Name)
		if err != nil {
			return err
		}
		certs, err := tx.CreateBucketIfNotExists(bucketAgentCerts)
		if err != nil {
			return err
		}
		if err := putJSON(certs, []byte(c.Name), cert); err != nil {
			return err
		}
		c.Used = now
		return putJSON(b, []byte(secretHash), c)
	})
	if err != nil {
		return c, fmt.Errorf("store: use join code: %w", err)
	}
	return c, nil
}

// AgentCert returns a host's credential, or an error wrapping ErrNotFound.
func (h *Hub) AgentCert(name string) (AgentCert, error) {
	var c AgentCert
	err := h.db.View(func(tx *bolt.Tx) error {
		found, err := getJSON(tx.Bucket(bucketAgentCerts), []byte(name), &c)
		if err == nil && !found {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return c, fmt.Errorf("store: agent credential %s: %w", name, err)
	}
	return c, nil
}

// AgentCerts lists every host's credential by name.
func (h *Hub) AgentCerts() ([]AgentCert, error) {
	var out []AgentCert
	err := h.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAgentCerts)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			var c AgentCert
			if _, err := getJSON(b, k, &c); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: agent credentials: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// RevokeAgentCert marks a host's credential revoked; ErrNotFound if the
// host has none.
func (h *Hub) RevokeAgentCert(name string, at time.Time) (AgentCert, error) {
	var c AgentCert
	err := h.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAgentCerts)
		found, err := getJSON(b, []byte(name), &c)
		switch {
		case err != nil:
			return err
		case !found:
			return ErrNotFound
		}
		if c.Revoked.IsZero() {
			c.Revoked = at
		}
		return putJSON(b, []byte(name), c)
	})
	if err != nil {
		return c, fmt.Errorf("store: revoke agent credential %s: %w", name, err)
	}
	return c, nil
}

// RevokeAgentName marks host name revoked, with a record of no
// certificate if it has none: an agent of a hub whose broker is a NATS
// cluster is admitted by a key derived from its name, not enrolled.
func (h *Hub) RevokeAgentName(name string, at time.Time) (AgentCert, error) {
	var c AgentCert
	err := h.db.Update(func(tx *bolt.Tx) error {
		// The bucket is made by the first enrolment, which a NATS hub
		// never has.
		b, err := tx.CreateBucketIfNotExists(bucketAgentCerts)
		if err != nil {
			return err
		}
		found, err := getJSON(b, []byte(name), &c)
		if err != nil {
			return err
		}
		if !found {
			c = AgentCert{Name: name}
		}
		if c.Revoked.IsZero() {
			c.Revoked = at
		}
		return putJSON(b, []byte(name), c)
	})
	if err != nil {
		return c, fmt.Errorf("store: revoke agent %s: %w", name, err)
	}
	return c, nil
}
