package doctor

import (
	"context"
	"crypto/tls"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/peerlink/peerlink/roles/broker/natslink"
	"github.com/peerlink/peerlink/testkit/natstest"
	"github.com/peerlink/peerlink/testkit/ports"
	"github.com/peerlink/peerlink/web/certs"
)

// natsServer runs a NATS server in this process on 127.0.0.1, admitting
// the users nats-config writes into dir/out for agents site-a and site-b
// when users is set, and speaking TLS when conf is set. It returns the
// server's port.
func natsServer(t *testing.T, dir string, users bool, conf *tls.Config) int {
	t.Helper()
	text := ""
	if users {
		text = "include \"out/peerlink-users.conf\"\n"
	}
	return natstest.Start(t, dir, text, conf).Port
}

// natsKeys writes the hub's secret into dir and, with it, the NATS users
// and the keys of site-a and site-b into dir/out; it returns dir/out.
func natsKeys(t *testing.T, dir string) string {
	t.Helper()
	secret, err := natslink.LoadOrCreateSecret(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if _, err := natslink.WriteConfig(secret, out, []string{"site-a", "site-b"}); err != nil {
		t.Fatal(err)
	}
	return out
}

// check runs doctor's remote checks against a broker and returns their
// results.
func check(t *testing.T, o Options) []Result {
	t.Helper()
	o.Timeout = 5 * time.Second
	r := remote{opts: o}
	return r.checks(context.Background())
}

func want(t *testing.T, results []Result, check string, status Status, says string) {
	t.Helper()
	for _, r := range results {
		if r.Check == check && r.Status == status && strings.Contains(r.Detail+" "+r.Fix, says) {
			return
		}
	}
	t.Errorf("no %s %s saying %q in %+v", status, check, says, results)
}

// doctor --broker nats://...: a server that takes the agent's key with the
// agent's permissions is ok; another agent's key, a key of another hub's,
// no key, and a server that is down each fail saying what to do; a server
// that admits anyone warns; every server of a list is checked, one down
// warns while another takes the agent and fails when none does; plain
// NATS warns that it is not TLS.
func TestDoctorNATS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keys := natsKeys(t, dir)
	url := fmt.Sprintf("nats://127.0.0.1:%d", natsServer(t, dir, true, nil))
	open := fmt.Sprintf("nats://127.0.0.1:%d", natsServer(t, dir, false, nil))
	down := fmt.Sprintf("nats://127.0.0.1:%d", ports.Free(t))
	foreign := natsKeys(t, t.TempDir())
	siteA := filepath.Join(keys, "site-a.nk")

	r := check(t, Options{Broker: url, Name: "site-a", NKeyFile: siteA})
	want(t, r, "broker", OK, "takes site-a's NKey with site-a's permissions")
	want(t, r, "tls", Warn, "without TLS")
	if Failed(r) {
		t.Errorf("a healthy NATS server failed: %+v", r)
	}
	want(t, check(t, Options{Broker: url, Name: "site-b", NKeyFile: siteA}), "broker", Fail, "not as site-b's")
	want(t, check(t, Options{Broker: url, Name: "site-a", NKeyFile: filepath.Join(foreign, "site-a.nk")}), "broker", Fail, "peerlink nats-config --data HUBDATA --agent site-a")
	want(t, check(t, Options{Broker: url, Name: "site-a"}), "broker", Fail, "give --nkey-file site-a.nk")
	want(t, check(t, Options{Broker: open}), "broker", Warn, "admits a client without credentials")
	want(t, check(t, Options{Broker: url, NKeyFile: filepath.Join(dir, "no-such.nk")}), "broker", Fail, "give --nkey-file the NAME.nk")

	r = check(t, Options{Broker: down + "," + url, Name: "site-a", NKeyFile: siteA})
	want(t, r, "broker", OK, url)
	want(t, r, "broker", Warn, down+" cannot be reached")
	if Failed(r) {
		t.Errorf("a list with one server down of two failed, though the agent connects to the other: %+v", r)
	}
	want(t, check(t, Options{Broker: down + "," + down, Name: "site-a", NKeyFile: siteA}), "broker", Fail, down+" cannot be reached")
}

// doctor --broker tls://... with --ca: a server whose certificate that CA
// signed is ok; without the CA the tls check fails saying --ca; a nats://
// URL of a server that requires TLS fails saying to write tls://.
func TestDoctorNATSTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keys := natsKeys(t, dir)
	ca, _, err := certs.LoadOrCreateAuthority(filepath.Join(dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	conf, err := ca.ServerConfig(filepath.Join(dir, "ca"), []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	port := natsServer(t, dir, true, conf)
	tlsURL, plainURL := fmt.Sprintf("tls://127.0.0.1:%d", port), fmt.Sprintf("nats://127.0.0.1:%d", port)
	siteA := filepath.Join(keys, "site-a.nk")
	caFile := certs.CAFile(filepath.Join(dir, "ca"))

	r := check(t, Options{Broker: tlsURL, Name: "site-a", NKeyFile: siteA, CAFile: caFile})
	want(t, r, "tls", OK, "speaks TLS")
	want(t, r, "broker", OK, "takes site-a's NKey")
	if Failed(r) {
		t.Errorf("a healthy NATS server over TLS failed: %+v", r)
	}
	want(t, check(t, Options{Broker: tlsURL, Name: "site-a", NKeyFile: siteA}), "tls", Fail, "give --ca FILE")
	want(t, check(t, Options{Broker: plainURL, Name: "site-a", NKeyFile: siteA, CAFile: caFile}), "tls", Fail, "write the URL as tls://127.0.0.1")
}
