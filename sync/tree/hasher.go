package tree

import "hash"

// A large file's SHA-256 costs as much CPU as writing it (about 1 GB/s of
// one core each): a Pending that has written asyncHashAfter bytes hashes the
// rest in a goroutine of its own, so that the hash of one piece overlaps the
// write of the next and a target rebuilding a 1 GiB file uses two cores.
// Smaller files are hashed as they are written: a goroutine and its buffers
// would cost them more than they save.
const (
	asyncHashAfter = 4 << 20
	asyncHashBuf   = 256 << 10
	asyncHashBufs  = 3
)

// writeBehind: a large file's written data is handed to the disk every
// writeBehind bytes (startWriteback) rather than left dirty in the page
// cache until its fsync: with 24 GiB of memory the kernel's background
// writeback starts only past gigabytes, so a 1 GiB file rebuilt by a delta
// would otherwise be flushed whole after it was written.
const writeBehind = 8 << 20

// asyncHash feeds h from a goroutine, in the order of the writes. Its owner
// calls write from one goroutine and wait exactly once, after which h holds
// everything written.
type asyncHash struct {
	h    hash.Hash
	work chan []byte
	free chan []byte
	done chan struct{}
}

func startAsyncHash(h hash.Hash) *asyncHash {
	a := &asyncHash{h: h, work: make(chan []byte, asyncHashBufs), free: make(chan []byte, asyncHashBufs), done: make(chan struct{})}
	for range asyncHashBufs {
		a.free <- make([]byte, asyncHashBuf)
	}
	go func() {
		defer close(a.done)
		for b := range a.work {
			a.h.Write(b)
			a.free <- b[:cap(b)]
		}
	}()
	return a
}

// write queues a copy of b for hashing: the caller may reuse b at once.
func (a *asyncHash) write(b []byte) {
	for len(b) > 0 {
		buf := <-a.free
		n := copy(buf, b)
		a.work <- buf[:n]
		b = b[n:]
	}
}

// wait ends the goroutine once everything queued is hashed.
func (a *asyncHash) wait() {
	close(a.work)
	<-a.done
}
