package wanlink

import (
	"time"

	"golang.org/x/sys/unix"
)

// sleepPrecisely blocks the calling thread for d in the kernel
// (nanosleep), which wakes it within its timer slack (50 µs by default)
// rather than at the Go netpoller's next whole millisecond. d is at most
// a few milliseconds: the thread is given back to the runtime's other
// goroutines while it sleeps, as in any blocking system call.
func sleepPrecisely(d time.Duration) {
	if d <= 0 {
		return
	}
	ts := unix.NsecToTimespec(d.Nanoseconds())
	for unix.Nanosleep(&ts, &ts) == unix.EINTR {
	}
}
