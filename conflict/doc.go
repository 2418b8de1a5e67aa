// Package conflict decides, from every host's scan and the last synchronised
// index, what must happen to each path: which copy wins, what each host must
// fetch, create, delete or rename, and what must be quarantined for an
// operator. It performs no I/O.
package conflict
