// Package xfer moves file content between agents: the source side answers
// chunked reads of a file it holds, the target side pulls a file with several
// chunks in flight, verifies it end to end and commits it atomically. Memory
// per transfer is bounded by the window, never by the file's size.
package xfer
