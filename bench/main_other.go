//go:build !linux

package main

import (
	"fmt"
	"os"
)

// The bench measures the agent where it runs in production, on Linux file
// servers: it reads /proc for load and memory, watches the targets with
// inotify and checks inode flags. Elsewhere it says so.
func main() {
	fmt.Fprintln(os.Stderr, "bench: runs on Linux only (it reads /proc, uses inotify and inode flags); run it on a Linux machine")
	os.Exit(2)
}
