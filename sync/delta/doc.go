// Package delta describes a version of a file by content-defined
// signatures, and plans the rebuild of a new version from an old copy (the
// basis) plus the byte ranges that only the new version holds.
//
// A file is cut into chunks (FastCDC: a gear hash over the bytes since the
// last cut, so a cut depends on content only, and an insertion or deletion
// moves the cuts near it and no others); the chunks are grouped into spans,
// which end at a chunk cut whose fingerprint also meets a stricter mask
// (about one cut in 64, a span of about 1 MiB). A span's chunks are found
// again by chunking that span's bytes alone. So a file's signature is its
// span list, about 20 bytes per MiB; chunk lists are asked for only where
// spans differ. The package performs no I/O beyond the readers it is given.
package delta
