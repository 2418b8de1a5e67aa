package conflict

import (
	"fmt"
	"slices"
	"strings"

	"github.com/peerlink/peerlink/wire"
)

// The end of a write-open. While a file is open for writing on its source
// host, every other copy is locked; a second host that could not be locked
// (open there too) is a second writer. Once the last of them closes, what
// each close reported settles the file: no modified copy releases the
// locks, one is propagated to every target, two or more are a conflict.

// Closed returns what a close reports as modified: e, unless it equals
// the index's version (prior, when had), which is no modification. An
// agent reports a close as modified when it cannot tell otherwise (a file
// too new for its scan cache); such a close sends nothing, so no fetch
// releases the targets' locks and the close itself must.
func Closed(e *wire.Entry, prior Record, had bool) *wire.Entry {
	if e != nil && had && prior.Entry == *e {
		return nil
	}
	return e
}

// CloseKind is what a write-open's last close comes to.
type CloseKind int

const (
	// CloseUnchanged: no writer modified the file; the targets' locks are
	// released and nothing is sent.
	CloseUnchanged CloseKind = iota
	// ClosePropagate: one writer modified it; its version goes to every
	// other host, which releases their locks.
	ClosePropagate
	// CloseConflict: two or more writers modified it; the file is
	// quarantined with their copies and the locks released.
	CloseConflict
)

// CloseDecision is how the last close of a write-open settles the file.
type CloseDecision struct {
	Kind CloseKind
	// Source and Entry, for ClosePropagate: the writer and its version.
	Source string
	Entry  wire.Entry
	// Copies, for CloseConflict: every modified copy, by host name;
	// Reason and Why say why, for the File Conflict List.
	Copies []Copy
	Reason Reason
	Why    string
}

// SettleClose decides, from what every writer's close reported (nil: closed
// without changes), how the file is settled.
func SettleClose(closed map[string]*wire.Entry) CloseDecision {
	var modified []string
	for h, e := range closed {
		if e != nil {
			modified = append(modified, h)
		}
	}
	slices.Sort(modified)
	switch len(modified) {
	case 0:
		return CloseDecision{Kind: CloseUnchanged}
	case 1:
		return CloseDecision{Kind: ClosePropagate, Source: modified[0], Entry: *closed[modified[0]]}
	}
	d := CloseDecision{Kind: CloseConflict, Reason: ReasonConcurrentEdit, Why: fmt.Sprintf("modified at the same time on %s", strings.Join(modified, " and "))}
	for _, h := range modified {
		d.Copies = append(d.Copies, Copy{Host: h, Entry: *closed[h]})
	}
	return d
}
