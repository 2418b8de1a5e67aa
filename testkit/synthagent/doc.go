// Package synthagent is an agent without a disk: it connects to the hub's
// broker as an agent does and answers a session's requests from a tree it
// generates in memory, so that the bench can load the hub with millions of
// paths without writing them anywhere. The product never imports it.
//
// What it answers: Attach (Attached, the same root identity at every
// attach), RootCheck, Scan (the generated tree in ScanParts, then a Done
// part), Apply (every op done, as if applied), Lock, Unlock, Detach and
// JournalClear (OK), Clock (its own clock). It refuses the rest (reads,
// owners, signatures) with KindInvalid: a session of synthetic agents
// whose trees are the same plans no transfer, and needs none.
package synthagent
