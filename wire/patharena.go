package wire

import "strings"

// A PathArena copies paths into large shared blocks, for a holder of
// millions of paths that live and die together (the hub's merge of a
// session's index, issue 13, point 5): a 52-byte path allocated on its own
// takes 64 bytes of the allocator's size classes and one object for the
// collector to mark, and in a block 52 bytes and a share of one object. A
// copy keeps its whole block alive, so an arena is for paths kept as long
// as most of the others, not for transient ones. The zero value is ready
// to use; an arena is not safe for concurrent use.
type PathArena struct {
	b strings.Builder
}

// pathBlock is the size of an arena's blocks: large enough that the blocks
// are few, small enough that the tail left unused when a path does not
// fit is a small share.
const pathBlock = 64 << 10

// Copy returns a copy of p held in the arena.
func (a *PathArena) Copy(p string) string {
	return a.copy(len(p), func(b *strings.Builder) { b.WriteString(p) })
}

// CopyBytes returns p as a string held in the arena.
func (a *PathArena) CopyBytes(p []byte) string {
	return a.copy(len(p), func(b *strings.Builder) { b.Write(p) })
}

// copy writes n bytes with write and returns them. A strings.Builder
// never changes the bytes it has written (it grows by copying to a new
// buffer, which Grow below never needs as the block has room), so every
// string taken from it stays valid while later paths are appended.
func (a *PathArena) copy(n int, write func(*strings.Builder)) string {
	if n == 0 {
		return ""
	}
	if a.b.Cap()-a.b.Len() < n {
		a.b = strings.Builder{}
		a.b.Grow(max(pathBlock, n))
	}
	start := a.b.Len()
	write(&a.b)
	return a.b.String()[start:]
}
