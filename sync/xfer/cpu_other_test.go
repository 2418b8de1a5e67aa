//go:build !linux

package xfer

import "time"

var cpuStart = time.Now()

// threadCPU falls back to wall time where a thread's CPU time is not at
// hand: the figures are then only as good as the machine is quiet.
func threadCPU() time.Duration { return time.Since(cpuStart) }
