package agent

import (
	"os"
	"strconv"
	"strings"

	"github.com/peerlink/peerlink/wire"
)

// A scan that fails half-way, for the tests of issue 14 ("a returning
// host whose scan fails half-way"), behind the hidden --fault-scan FILE.
// Nothing real fails a whole scan on demand: an unreadable folder, a
// file that vanishes, an I/O error below the root are warnings that the
// scan goes on after (the hub leaves those paths alone); a scan fails as
// a whole only when its root, the agent's database or its link does,
// none of which a test can break half-way and mend again. So, while FILE
// exists and holds a number N, a whole scan sends its batches until N
// entries or more have gone, then fails with an I/O error, as a disk that dies
// half-way would; removing FILE mends it, without restarting the agent.

// scanFault returns the check that a scan of under calls before each
// batch it sends: nil until the fault, if one is set, strikes.
func (a *Agent) scanFault(under string) func(n int) error {
	limit := -1
	if a.cfg.FaultScan != "" && under == "" {
		if b, err := os.ReadFile(a.cfg.FaultScan); err == nil {
			if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && n >= 0 {
				limit = n
			}
		}
	}
	sent := 0
	return func(n int) error {
		if limit < 0 {
			return nil
		}
		if sent >= limit {
			a.log.Warn().Int("after", sent).Msg("--fault-scan: this scan fails here (tests only)")
			return &wire.Error{Kind: wire.KindOther, Op: "scan", Host: a.cfg.Name,
				Msg: "input/output error reading the root (injected by --fault-scan, tests only)"}
		}
		sent += n
		return nil
	}
}
