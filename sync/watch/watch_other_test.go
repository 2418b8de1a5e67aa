//go:build !linux || watch_fsnotify

package watch

const childEnv = "PEERLINK_WATCH_TEST_CHILD"

// runChild: the portable build's tests start no child processes.
func runChild() int { return 2 }
