package main

import (
	"fmt"
	"os"
	"runtime/debug"
	"runtime/pprof"
)

// startProfile writes a CPU profile of this process to the file named by
// PEERLINK_CPUPROFILE, when it is set (`make bench -cpuprofile DIR` sets it
// for the hub and agents it starts). The returned function ends the profile;
// main calls it when the command returns.
func startProfile() func() {
	path := os.Getenv("PEERLINK_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "peerlink: PEERLINK_CPUPROFILE:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "peerlink: PEERLINK_CPUPROFILE:", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

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
