//go:build linux

package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/peerlink/peerlink/store"
	"github.com/peerlink/peerlink/web/api"
)

// peopleWarning is what status and the console say while the shared
// token still signs people in.
const peopleWarning = "still signs people in"

// consoleWarnings signs in to the console's REST login as user and
// returns the warnings the console shows at the top of every page.
func consoleWarnings(t *testing.T, c *cluster, user, password string) []string {
	t.Helper()
	body, _ := json.Marshal(api.LoginRequest{User: user, Password: password})
	hc := &http.Client{Transport: trusting(t, c.ca)}
	resp, err := hc.Post(c.hubURL+"/api/v1/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var me api.Me
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("console sign-in as %s: %d %v", user, resp.StatusCode, err)
	}
	return me.Warnings
}

func warns(list []string) bool {
	for _, w := range list {
		if strings.Contains(w, peopleWarning) {
			return true
		}
	}
	return false
}

// A hub upgraded from before API tokens (issue 12, point 4): its data
// directory holds the shared token and the console's admin password of
// the older release. The password is the admin account's, the shared
// token still works for the CLI, and status and the console warn; after
// `peerlink tokens retire-shared` the shared token is refused to people
// with a message saying what to use instead, the warning is gone, an
// agent still connected by the token stays, and all of it holds across
// a restart of the hub.
func TestPeopleUpgradeRetireSharedToken(t *testing.T) {
	t.Parallel()
	c := &cluster{t: t, dir: t.TempDir(), upgraded: true}
	const oldPassword = "older release pw"
	olderRelease(t, filepath.Join(c.dir, "hub"), oldPassword)
	startCluster(c)

	if r := as(t, c, c.token, "session", "list"); r.code != 0 {
		t.Fatalf("the shared token after the upgrade: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, who := range []string{"the admin token", "the shared token"} {
		secret := c.apiToken
		if who == "the shared token" {
			secret = c.token
		}
		r := as(t, c, secret, "status")
		if r.code != 0 || !strings.Contains(r.stdout, peopleWarning) || !strings.Contains(r.stdout, "peerlink tokens retire-shared") {
			t.Errorf("status with %s on an upgraded hub: exit %d, want the warning naming retire-shared:\n%s%s", who, r.code, r.stdout, r.stderr)
		}
	}
	if !warns(consoleWarnings(t, c, "admin", oldPassword)) {
		t.Errorf("the console of an upgraded hub does not warn that the shared token signs people in")
	}
	// An agent of the older release, by the shared token: retiring it
	// for people leaves agents alone.
	agent := c.start("agent-site-b", "agent", "--name", "site-b", "--broker", c.brokerWS, "--token-file", c.tokenFile(), "--ca", c.ca,
		"--data", filepath.Join(c.dir, "agent-site-b"))
	c.waitAgent("site-b", true, agent)

	// A person's token cannot retire it; the admin can.
	helpdesk := newToken(t, c, "hal", api.RoleHelpdesk)
	mustFail(t, "helpdesk: tokens retire-shared", as(t, c, helpdesk, "tokens", "retire-shared"), "needs the admin role")
	if out := c.mustCLI("tokens", "retire-shared"); !strings.Contains(out, "no longer signs people in") {
		t.Errorf("tokens retire-shared printed %q", out)
	}
	check := func(when string) {
		t.Helper()
		mustFail(t, "the shared token "+when, as(t, c, c.token, "status"), "shared token", "no longer signs people in", "DATA/admin-token")
		if r := as(t, c, helpdesk, "session", "list"); r.code != 0 {
			t.Errorf("an API token %s: exit %d\n%s", when, r.code, r.stderr)
		}
		if out := c.mustCLI("status"); strings.Contains(out, peopleWarning) {
			t.Errorf("status still warns %s:\n%s", when, out)
		}
		if warns(consoleWarnings(t, c, "admin", oldPassword)) {
			t.Errorf("the console still warns %s", when)
		}
		c.waitAgent("site-b", true, agent)
	}
	check("after retire-shared")
	c.proc("hub").stop()
	c.startHub()
	check("after a restart")
}

// olderRelease makes data a hub's data directory as a release from before
// API tokens left it: hub.db holding the bcrypt hash of the console's
// admin password (its setting of then), and no admin token. The
// harness writes the shared token (cluster.upgraded).
func olderRelease(t *testing.T, data, password string) {
	t.Helper()
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.OpenHub(filepath.Join(data, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	// The key of roles/hub's adminPasswordKey, as older releases wrote it.
	if err := db.PutSetting("admin-password-bcrypt", hash); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}
