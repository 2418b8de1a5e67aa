package client

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/peerlink/peerlink/web/api"
)

// waitSynced follows a starting session until its initial synchronisation
// ends, drawing a progress bar on a terminal and printing a plain line every
// few seconds otherwise. It fails (exit 1) if the start fails or any file
// could not be synchronised.
func waitSynced(c *cli.Context, cl *api.Client, name string) error {
	w := c.App.Writer
	f, isFile := w.(*os.File)
	tty := isFile && term.IsTerminal(int(f.Fd()))
	var (
		rate      rateMeter
		lastPlain time.Time
		lastPhase api.Phase
		absent    time.Time // since when a host has been missing
	)
	// Poll often at first, so that a start with nothing to do (a restart
	// of a synchronised session) returns as soon as it is done, then at
	// the pace of the progress bar.
	start := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		s, err := cl.Session(c.Context, name)
		if err != nil {
			return err
		}
		st := s.Status
		now := time.Now()
		bps := rate.update(now, st.Bytes.Done)
		switch st.Phase {
		case api.PhaseRunning:
			if tty {
				fmt.Fprint(w, "\r\033[K")
			}
			return synced(c, name, st)
		case api.PhaseFailed, api.PhaseStopped:
			if tty {
				fmt.Fprint(w, "\r\033[K")
			}
			reason := st.Reason
			if reason == "" {
				reason = "stopped"
			}
			return cli.Exit(fmt.Sprintf("session %s failed: %s", name, reason), 1)
		}
		if missing := absentHosts(st); len(missing) == 0 {
			absent = time.Time{}
		} else if absent.IsZero() {
			absent = now
		} else if now.Sub(absent) >= c.Duration("wait-for-hosts") {
			if tty {
				fmt.Fprint(w, "\r\033[K")
			}
			return cli.Exit(fmt.Sprintf("session %s waits for %s, not connected: start the agent there (the session goes on once it connects; stop it with `%s session stop %s`), or give --wait-for-hosts DURATION to wait here",
				name, strings.Join(missing, ", "), self(), name), 1)
		}
		line := progressLine(st, bps)
		switch {
		case tty:
			fmt.Fprintf(w, "\r\033[K%s", line)
		case st.Phase != lastPhase || now.Sub(lastPlain) >= 5*time.Second:
			fmt.Fprintln(w, line)
			lastPlain = now
		}
		lastPhase = st.Phase
		tick.Reset(pollEvery(now.Sub(start), st, bps))
		select {
		case <-tick.C:
		case <-c.Context.Done():
			return c.Context.Err()
		}
	}
}

// pollEvery is the pause before the next look at a start's status: often
// in its first seconds (a restart with nothing to do returns at once) and
// in its last second or so, judged by the rate the bytes move at, so that
// the command returns soon after the end; at the pace of the progress bar
// in between.
func pollEvery(since time.Duration, st api.SessionStatus, bps float64) time.Duration {
	const often, bar = 50 * time.Millisecond, 200 * time.Millisecond
	if since <= 5*time.Second {
		return often
	}
	if left := st.Bytes.Total - st.Bytes.Done; bps > 0 && float64(left) < 1.5*bps {
		return often
	}
	return bar
}

// synced reports the end of a start: what moved, what each scan found,
// what waits in the File Conflict List, and what could not be synchronised
// (exit 1).
func synced(c *cli.Context, name string, st api.SessionStatus) error {
	w := c.App.Writer
	fmt.Fprintf(w, "session %s synchronised: %d files, %s in %s; %s\n", name, st.Files.Done, size(st.Bytes.Done),
		st.Synced.Sub(st.Started).Round(time.Millisecond), scanned(st))
	if st.Quarantined > 0 {
		// Exit 0 all the same: the session runs; what waits for an
		// operator is said, and `session status --json` counts it.
		fmt.Fprintf(w, "%d path%s set aside in the File Conflict List, synchronised on no host until resolved: see %s conflicts list %s\n",
			st.Quarantined, map[bool]string{true: "", false: "s"}[st.Quarantined == 1], self(), name)
	}
	if st.ErrorCount > 0 {
		for _, e := range st.Errors {
			fmt.Fprintf(c.App.ErrWriter, "  %s\n", e.Error())
		}
		return cli.Exit(fmt.Sprintf("session %s: %d files could not be synchronised (see above, and `%s session status %s`)", name, st.ErrorCount, self(), name), 1)
	}
	return nil
}

func progressLine(st api.SessionStatus, bps float64) string {
	if st.Phase != api.PhaseSyncing {
		switch {
		case st.Reason != "":
			return fmt.Sprintf("%s: %s", st.Phase, st.Reason)
		case st.Phase == api.PhaseAttaching:
			return fmt.Sprintf("%s: waiting for %d hosts to attach", st.Phase, len(st.Hosts))
		}
		return fmt.Sprintf("%s: %s", st.Phase, scanned(st))
	}
	frac := 1.0
	if st.Bytes.Total > 0 {
		frac = float64(st.Bytes.Done) / float64(st.Bytes.Total)
	} else if st.Files.Total > 0 {
		frac = float64(st.Files.Done) / float64(st.Files.Total)
	}
	frac = min(max(frac, 0), 1)
	const width = 30
	bar := strings.Repeat("#", int(frac*width)) + strings.Repeat(".", width-int(frac*width))
	eta := "-"
	if bps > 0 && st.Bytes.Total > st.Bytes.Done {
		eta = (time.Duration(float64(st.Bytes.Total-st.Bytes.Done)/bps) * time.Second).Round(time.Second).String()
	}
	return fmt.Sprintf("[%s] %3.0f%%  %d/%d files  %s/%s  %s/s  ETA %s", bar, frac*100, st.Files.Done, st.Files.Total,
		size(st.Bytes.Done), size(st.Bytes.Total), size(int64(bps)), eta)
}

// rateMeter smooths the transfer rate over the last few seconds.
type rateMeter struct {
	t     time.Time
	bytes int64
	bps   float64
}

func (r *rateMeter) update(now time.Time, bytes int64) float64 {
	if !r.t.IsZero() {
		if dt := now.Sub(r.t).Seconds(); dt > 0 && bytes >= r.bytes {
			inst := float64(bytes-r.bytes) / dt
			r.bps = 0.7*r.bps + 0.3*inst
		}
	}
	r.t, r.bytes = now, bytes
	return r.bps
}

// scanned says how many files and folders each host's scan found.
func scanned(st api.SessionStatus) string {
	parts := make([]string, len(st.Hosts))
	for i, h := range st.Hosts {
		parts[i] = fmt.Sprintf("%s %d", h.Host, h.Files)
	}
	return "files and folders scanned: " + strings.Join(parts, ", ")
}

// absentHosts returns the session's hosts that are not connected while it
// attaches.
func absentHosts(st api.SessionStatus) []string {
	if st.Phase != api.PhaseAttaching {
		return nil
	}
	var out []string
	for _, h := range st.Hosts {
		if !h.Connected {
			out = append(out, h.Host)
		}
	}
	return out
}
