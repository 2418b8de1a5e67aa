package store

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The people who use the hub's console and REST API: API tokens (the CLI's
// and scripts') and console accounts. Their buckets are made on first use,
// so a hub.db of an older hub gains them without a schema step.
var (
	bucketTokens = []byte("apitokens")
	bucketUsers  = []byte("users")
)

// ErrExists is returned when a token or account of that name exists.
var ErrExists = errors.New("exists")

// APIToken is one API token as the hub keeps it: the secret itself is
// never stored, only its SHA-256 (the secret has 256 random bits, so a
// plain hash cannot be reversed by guessing).
type APIToken struct {
	Name     string    `json:"name"`
	Role     string    `json:"role"`
	Hash     []byte    `json:"hash"` // SHA-256 of the secret
	Creator  string    `json:"creator"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires,omitzero"` // zero: never
	LastUsed time.Time `json:"last_used,omitzero"`
}

// User is one local console account; Hash is its bcrypt hash.
type User struct {
	Name    string    `json:"name"`
	Role    string    `json:"role"`
	Hash    []byte    `json:"hash"`
	Creator string    `json:"creator"`
	Created time.Time `json:"created"`
}

// AddToken stores a new token; a token of that name is ErrExists.
func (h *Hub) AddToken(t APIToken) error {
	return h.addRecord(bucketTokens, t.Name, t)
}

// Tokens returns every API token, by name.
func (h *Hub) Tokens() ([]APIToken, error) {
	return listRecords[APIToken](h, bucketTokens)
}

// TouchToken records that the named token was used at t.
func (h *Hub) TouchToken(name string, t time.Time) error {
	return h.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		var tok APIToken
		if ok, err := getJSON(b, []byte(name), &tok); !ok || err != nil {
			return err // revoked meanwhile: nothing to record
		}
		tok.LastUsed = t
		return putJSON(b, []byte(name), tok)
	})
}

// AddUser stores a new account; an account of that name is ErrExists.
func (h *Hub) AddUser(u User) error {
	return h.addRecord(bucketUsers, u.Name, u)
}

// PutUser stores an account, replacing one of the same name.
func (h *Hub) PutUser(u User) error {
	return h.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketUsers)
		if err != nil {
			return err
		}
		return putJSON(b, []byte(u.Name), u)
	})
}

// UserByName returns the named account, or an error wrapping ErrNotFound.
func (h *Hub) UserByName(name string) (User, error) {
	var u User
	err := h.db.View(func(tx *bolt.Tx) error {
		ok, err := getJSON(tx.Bucket(bucketUsers), []byte(name), &u)
		if err == nil && !ok {
			err = ErrNotFound
		}
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("store: account %s: %w", name, err)
	}
	return u, nil
}

// Users returns every account, by name.
func (h *Hub) Users() ([]User, error) {
	return listRecords[User](h, bucketUsers)
}

// DeleteUser removes the named account, or returns ErrNotFound.
func (h *Hub) DeleteUser(name string) error {
	return h.deleteRecord(bucketUsers, name)
}

func (h *Hub) addRecord(top []byte, name string, v any) error {
	err := h.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(top)
		if err != nil {
			return err
		}
		if b.Get([]byte(name)) != nil {
			return ErrExists
		}
		return putJSON(b, []byte(name), v)
	})
	if err != nil {
		return fmt.Errorf("store: add %s %s: %w", top, name, err)
	}
	return nil
}

func (h *Hub) deleteRecord(top []byte, name string) error {
	err := h.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(top)
		if b == nil || b.Get([]byte(name)) == nil {
			return ErrNotFound
		}
		return b.Delete([]byte(name))
	})
	if err != nil {
		return fmt.Errorf("store: delete %s %s: %w", top, name, err)
	}
	return nil
}

func listRecords[T any](h *Hub, top []byte) ([]T, error) {
	out := []T{}
	err := h.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(top)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var rec T
			if _, err := getJSON(b, k, &rec); err != nil {
				return err
			}
			out = append(out, rec)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list %s: %w", top, err)
	}
	return out, nil
}

// RevokedToken is what the hub remembers of a revoked token, by the hash
// of its secret, so that its holder is told it was revoked rather than
// that it is unknown.
type RevokedToken struct {
	Name    string    `json:"name"`
	By      string    `json:"by"`
	Revoked time.Time `json:"revoked"`
}

var bucketRevoked = []byte("apitokensrevoked")

// RevokeToken removes the named token and remembers its hash as revoked,
// in one transaction; ErrNotFound if there is no such token.
func (h *Hub) RevokeToken(name, by string, at time.Time) error {
	err := h.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		var tok APIToken
		ok, err := getJSON(b, []byte(name), &tok)
		if err != nil {
			return err
		}
		if !ok {
			return ErrNotFound
		}
		rb, err := tx.CreateBucketIfNotExists(bucketRevoked)
		if err != nil {
			return err
		}
		if err := putJSON(rb, tok.Hash, RevokedToken{Name: name, By: by, Revoked: at}); err != nil {
			return err
		}
		return b.Delete([]byte(name))
	})
	if err != nil {
		return fmt.Errorf("store: revoke token %s: %w", name, err)
	}
	return nil
}

// TokenByHash returns the token whose secret hashes to hash; if there is
// none, the record of its revocation when it was revoked, else ErrNotFound.
func (h *Hub) TokenByHash(hash []byte) (APIToken, *RevokedToken, error) {
	var found APIToken
	var rev *RevokedToken
	err := h.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketTokens); b != nil {
			c := b.Cursor()
			for k, _ := c.First(); k != nil; k, _ = c.Next() {
				var t APIToken
				if _, err := getJSON(b, k, &t); err != nil {
					return err
				}
				if string(t.Hash) == string(hash) {
					found = t
					return nil
				}
			}
		}
		var r RevokedToken
		ok, err := getJSON(tx.Bucket(bucketRevoked), hash, &r)
		if err != nil {
			return err
		}
		if ok {
			rev = &r
			return nil
		}
		return ErrNotFound
	})
	return found, rev, err
}
