// Package e2e tests the peerlink binary end to end: it builds the binary
// once, runs a hub and several agents as separate processes on 127.0.0.1
// with their own temp roots, drives them with the CLI and asserts on the
// files on disk.
package e2e
