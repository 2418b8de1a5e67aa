//go:build !linux

package wanlink

import "time"

// sleepPrecisely sleeps d on a Go timer: elsewhere than on Linux the link
// may deliver up to a millisecond late (see delayToxic).
func sleepPrecisely(d time.Duration) { time.Sleep(d) }
