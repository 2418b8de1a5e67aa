package roles

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// StartProfile writes a CPU profile of this process to the file named by
// PEERLINK_CPUPROFILE, when it is set (`make bench -cpuprofile DIR` sets it
// for the hub and agents it starts). The returned function ends the profile;
// main calls it when the command returns.
func StartProfile() func() {
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
