package broker

import (
	"math/rand/v2"
	"time"
)

// Backoff is how long a caller waits before reconnection attempt number
// attempt (0 for the first retry): 250 ms doubling up to 30 s, then ±20%
// jitter so that agents cut off together (a hub restart) do not all come
// back in the same instant. The jitter applies after the cap to keep them
// spread when all of them have reached it.
func Backoff(attempt int) time.Duration {
	const (
		first = 250 * time.Millisecond
		limit = 30 * time.Second
	)
	d := limit
	if attempt < 0 {
		attempt = 0
	}
	if attempt < 8 { // 250 ms << 7 already exceeds the cap
		d = min(first<<attempt, limit)
	}
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
