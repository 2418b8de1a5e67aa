//go:build !unix || tree_portable

package tree

// Room is not measured here: the write finds a full disk out.
func (t *Tree) Room(path string, size int64) error { return checkPath(path) }
