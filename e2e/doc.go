// Package e2e tests the peerlink binary end to end: it builds the binary
// once, runs a hub and several agents as separate processes on 127.0.0.1
// with their own temp roots, drives them with the CLI and asserts on the
// files on disk.
//
// The tests build on Linux only: they assert what the Linux agent
// guarantees (permission bits, inode flags, another uid's writes refused),
// which other systems do not offer. Elsewhere this package is empty.
package e2e
