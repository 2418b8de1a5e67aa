//go:build !linux

package main

import (
	"fmt"
	"os"
)

// The harness kills processes, reads inode flags and relies on the Linux
// agent's locks; elsewhere it says so.
func main() {
	fmt.Fprintln(os.Stderr, "chaos: runs on Linux only (kill -9, inode flags, the Linux agent's locks)")
	os.Exit(2)
}
