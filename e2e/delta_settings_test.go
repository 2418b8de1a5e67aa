//go:build linux

package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// Delta compression, the seed's step 5, is a session setting: on by
// default from 1 MiB, changed by create and set (only what is given), shown
// by status, and bounded by the CLI and the API alike.
func TestDeltaSettings(t *testing.T) {
	t.Parallel()
	c := optCluster(t, hostsAB...)
	c.createSession("d", hostsAB)
	if s := c.session("d"); s.Delta == nil || !*s.Delta || s.DeltaMin != 1<<20 {
		t.Fatalf("a new session's delta: %v from %d bytes, want on from 1 MiB", s.Delta, s.DeltaMin)
	}
	if out := c.mustCLI("session", "status", "d"); !strings.Contains(out, "delta from 1.0 MiB") {
		t.Errorf("status does not show the delta setting:\n%s", out)
	}

	c.mustCLI("session", "set", "d", "--delta-min", "256KiB")
	if s := c.session("d"); s.Delta == nil || !*s.Delta || s.DeltaMin != 256<<10 {
		t.Errorf("after set --delta-min 256KiB: %v from %d bytes", s.Delta, s.DeltaMin)
	}
	c.mustCLI("session", "set", "d", "--delta=false")
	if s := c.session("d"); s.Delta == nil || *s.Delta || s.DeltaMin != 256<<10 {
		t.Errorf("after set --delta=false: %v from %d bytes, want off with the size kept", s.Delta, s.DeltaMin)
	}
	if out := c.mustCLI("session", "status", "d"); !strings.Contains(out, "delta off") {
		t.Errorf("status does not show delta off:\n%s", out)
	}

	for _, bad := range []string{"1.5MiB", "0", "-1", "2TiB", "lots"} {
		mustFail(t, "set --delta-min "+bad, c.cli("session", "set", "d", "--delta-min", bad), "--delta-min")
	}
	for _, bad := range []string{"-5", "1099511627777"} {
		apiRefused(t, c, "POST delta_min "+bad, "POST", "/api/v1/sessions", sessionBody(c, "e", `"delta_min":`+bad),
			http.StatusBadRequest, "delta_min", "1TiB")
	}
	noSessionsBut(t, c, "d")
	if s := c.session("d"); s.DeltaMin != 256<<10 {
		t.Errorf("refused changes left delta_min at %d, want 262144", s.DeltaMin)
	}
}
