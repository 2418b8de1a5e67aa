package store

import (
	bolt "go.etcd.io/bbolt"
)

// Cached returns the scan cache's record of one path of a session, for a
// live change that must be judged against what the agent last knew.
func (a *Agent) Cached(session, path string) (Cached, bool) {
	var c Cached
	var ok bool
	_ = a.db.View(func(tx *bolt.Tx) error {
		b := subBucket(tx, bucketCache, session)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(path))
		if v == nil {
			return nil
		}
		var err error
		c, err = parseCached(v)
		ok = err == nil
		return nil
	})
	return c, ok
}
