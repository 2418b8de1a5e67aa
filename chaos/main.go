//go:build linux

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/peerlink/peerlink/testkit/wanlink"
)

func main() {
	seed := flag.Uint64("seed", 0, "run the schedule of this seed only (0: -schedules seeds from -first)")
	first := flag.Uint64("first", 1, "the first seed of a batch")
	schedules := flag.Int("schedules", 5, "how many schedules to run")
	steps := flag.Int("steps", 20, "steps per schedule")
	agents := flag.Int("agents", 3, "agents per schedule (3 to 5)")
	bin := flag.String("bin", "bin/peerlink", "the peerlink binary")
	dir := flag.String("dir", "", "where to keep each schedule's processes' state (default: a temp folder)")
	keep := flag.Bool("keep", false, "keep the folders of schedules that passed too")
	quiet := flag.Duration("quiet", 2*time.Minute, "how long a healed session may take to settle")
	rtt := flag.Duration("rtt", 10*time.Millisecond, "round trip each agent's link adds")
	verbose := flag.Bool("v", false, "print every schedule, not only a failed one's")
	flag.Parse()
	os.Exit(run(os.Stdout, *seed, *first, *schedules, *steps, *agents, *bin, *dir, *keep, *verbose, *quiet, *rtt))
}

func run(out io.Writer, seed, first uint64, schedules, steps, agents int, bin, dir string, keep, verbose bool, quiet, rtt time.Duration) int {
	if agents < 3 || agents > 5 {
		fmt.Fprintln(os.Stderr, "chaos: -agents must be 3 to 5")
		return 2
	}
	bin, err := exec.LookPath(bin)
	if err == nil {
		bin, err = filepath.Abs(bin)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaos: the peerlink binary: %v (make build first)\n", err)
		return 2
	}
	if dir == "" {
		if dir, err = os.MkdirTemp("", "peerlink-chaos-"); err != nil {
			fmt.Fprintln(os.Stderr, "chaos:", err)
			return 2
		}
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	cfg := config{bin: bin, dir: dir, quiet: quiet, keep: keep, shape: wanlink.Shape{RTT: rtt}}
	seeds := []uint64{seed}
	if seed == 0 {
		seeds = nil
		for i := range schedules {
			seeds = append(seeds, first+uint64(i))
		}
	}
	failed := 0
	for _, s := range seeds {
		res := runSchedule(ctx, cfg, Generate(s, steps, Hosts(agents)))
		report(out, res, cfg.keep, verbose)
		if len(res.failures) > 0 {
			failed++
		}
		if ctx.Err() != nil {
			break
		}
	}
	fmt.Fprintf(out, "chaos: %d of %d schedules failed (%d steps, %d agents)\n", failed, len(seeds), steps, agents)
	if failed > 0 {
		return 1
	}
	return 0
}

// report prints one schedule's outcome: a line when it passed; the seed,
// the schedule and what failed when it did. A passed schedule's folder is
// removed unless keep.
func report(out io.Writer, res result, keep, verbose bool) {
	if len(res.failures) == 0 {
		fmt.Fprintf(out, "seed %d: ok in %s\n", res.plan.Seed, res.took.Round(time.Millisecond))
		if verbose {
			printLog(out, res.log)
		}
		for _, n := range res.notes {
			fmt.Fprintln(out, "  note: "+n)
		}
		if !keep {
			unlockAll(res.dir)
			os.RemoveAll(res.dir)
		}
		return
	}
	fmt.Fprintf(out, "seed %d: FAILED in %s (rerun: -seed %d -steps %d -agents %d; state in %s)\n",
		res.plan.Seed, res.took.Round(time.Millisecond), res.plan.Seed, res.plan.Random, len(res.plan.Hosts), res.dir)
	printLog(out, res.log)
	for _, n := range res.notes {
		fmt.Fprintln(out, "  note: "+n)
	}
	fmt.Fprintln(out, "  failures:")
	for _, f := range res.failures {
		fmt.Fprintln(out, "    "+strings.ReplaceAll(f, "\n", "\n      "))
	}
}

func printLog(out io.Writer, log []string) {
	fmt.Fprintln(out, "  schedule:")
	for _, l := range log {
		fmt.Fprintln(out, "    "+l)
	}
}
