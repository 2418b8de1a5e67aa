package doctor

import (
	"fmt"

	"github.com/peerlink/peerlink/roles"
)

// Free space below which doctor warns, and fails: a transfer needs room
// for the new copy beside the old, and target protection keeps the old.
const (
	lowSpace      = 1 << 30
	tooLittleRoom = 100 << 20
)

func space(root string) Result {
	free, total, err := freeSpace(root)
	if err != nil {
		return Result{Check: "space", Status: Skip, Detail: "could not run: " + err.Error()}
	}
	if total == 0 {
		// ramfs and some network file systems report no size at all.
		return Result{Check: "space", Status: Skip, Detail: "the file system reports no size"}
	}
	detail := fmt.Sprintf("%s free of %s", bytes(free), bytes(total))
	fix := "free space: a transfer writes the new copy beside the old one, and target protection keeps old copies (see --protect-days)"
	switch {
	case free < tooLittleRoom:
		return Result{Check: "space", Status: Fail, Detail: detail, Fix: fix}
	case free < lowSpace || free < total/20:
		return Result{Check: "space", Status: Warn, Detail: detail, Fix: fix}
	}
	return Result{Check: "space", Status: OK, Detail: detail}
}

func bytes(n uint64) string { return roles.Size(int64(min(n, 1<<62))) }
