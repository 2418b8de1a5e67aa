// Package doctor is `peerlink doctor`: before a session needs them, it
// checks on an agent's host (or the hub's) what peerlink relies on, each
// check a line with ok, warn or fail and what to do about it.
package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// Status is a check's outcome.
type Status string

const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
	// Skip is a check that could not run: Detail says why (no permission
	// to read what it checks, a flag not given).
	Skip Status = "skip"
)

// Result is one check's outcome.
type Result struct {
	Check  string `json:"check"`
	Status Status `json:"status"`
	Detail string `json:"detail"`
	// Fix says what to do, for warn, fail and skip.
	Fix string `json:"fix,omitempty"`
}

// Options is what doctor checks.
type Options struct {
	// Roots are the folders an agent serves; with Hub, Token and Name
	// set, the roots the hub's sessions give Name are added.
	Roots []string
	Name  string
	// Hub is the console and REST API's URL; Broker the agents' broker
	// URL. Either may be empty: its checks are skipped.
	Hub, Broker string
	Token       string
	CAFile      string
	// NKeyFile is the agent's NATS key (NAME.nk) for a nats:// Broker:
	// doctor checks the servers take it as Name's.
	NKeyFile string
	// Timeout bounds each network check.
	Timeout time.Duration
}

// Run performs every check opts allows, in order: the remote ones first,
// since they may name more roots.
func Run(ctx context.Context, opts Options) []Result {
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Second
	}
	var out []Result
	r := remote{opts: opts}
	out = append(out, r.checks(ctx)...)
	roots := append(append([]string{}, opts.Roots...), r.roots...)
	if len(roots) == 0 {
		out = append(out, Result{Check: "roots", Status: Skip, Detail: "no root folder to check",
			Fix: "give --root DIR for each folder this agent serves, or --hub, --token-file and --name to ask the hub"})
	}
	seen := map[string]bool{}
	for _, root := range roots {
		if !seen[root] {
			seen[root] = true
			out = append(out, checkRoot(root)...)
		}
	}
	return out
}

// Failed reports whether any check failed.
func Failed(results []Result) bool {
	for _, r := range results {
		if r.Status == Fail {
			return true
		}
	}
	return false
}

// Print writes results as a table, or as JSON.
func Print(w io.Writer, results []Result, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(results)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Status, r.Check, r.Detail)
		if r.Fix != "" && r.Status != OK {
			fmt.Fprintf(tw, "\t\t→ %s\n", r.Fix)
		}
	}
	return tw.Flush()
}
