// Package main is the randomized fault harness of issue 14 (`make chaos`):
// a hub and several agents, each a peerlink process, every agent behind an
// emulated WAN link of its own (testkit/wanlink), driven through a seeded
// schedule of file work on random hosts interleaved with faults (agents and
// the hub killed and restarted, links cut, the session stopped and started,
// a stopped host's root emptied). After the schedule every fault is healed,
// the harness waits for the session to be quiet and checks the end state:
// the trees agree outside the File Conflict List, no version the harness
// wrote was lost that no rule allows to lose, nothing is left locked or
// half-written, and a further start plans nothing.
//
// The schedule is a pure function of its seed (schedule.go), so
// `-seed N` replays it; the timing of the processes is not replayed, so a
// failure names its steps and what differed, not a trace.
package main
