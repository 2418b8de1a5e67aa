//go:build linux

package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/peerlink/peerlink/roles/doctor"
)

// doctorRun runs `peerlink doctor --json args...` with env, and returns its
// results by check name and its exit code.
func doctorRun(t *testing.T, env []string, args ...string) (map[string]doctor.Result, result) {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"doctor", "--json"}, args...)...)
	cmd.Env = append(os.Environ(), append([]string{"PEERLINK_HUB=", "PEERLINK_TOKEN=", "PEERLINK_TOKEN_FILE=", "PEERLINK_CA=", "PEERLINK_BROKER=", "PEERLINK_NAME="}, env...)...)
	return doctorOutput(t, cmd)
}

func doctorOutput(t *testing.T, cmd *exec.Cmd) (map[string]doctor.Result, result) {
	t.Helper()
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("doctor: %v", err)
	}
	var list []doctor.Result
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatalf("doctor --json printed %q (%v); stderr %q", r.stdout, err, r.stderr)
	}
	byName := map[string]doctor.Result{}
	for _, x := range list {
		byName[x.Check] = x
	}
	return byName, r
}

func wantCheck(t *testing.T, got map[string]doctor.Result, check string, status doctor.Status, says string) {
	t.Helper()
	r, ok := got[check]
	if !ok {
		t.Errorf("no %q check in %v", check, got)
		return
	}
	if r.Status != status || !strings.Contains(r.Detail+" "+r.Fix, says) {
		t.Errorf("%s: %s %q (fix %q), want %s saying %q", check, r.Status, r.Detail, r.Fix, status, says)
	}
}

// On a healthy agent host doctor passes, finds the roots the hub's
// sessions give the agent by its name, and measures the clock against the
// hub's.
func TestDoctorHealthyHost(t *testing.T) {
	t.Parallel()
	c := optCluster(t, hostsAB...)
	c.createSession("d", hostsAB)
	got, r := doctorRun(t, nil, "--hub", c.hubURL, "--ca", c.ca, "--token-file", filepath.Join(c.dir, "hub", "admin-token"), "--name", "site-a", "--broker", c.brokerWS)
	if r.code != 0 {
		t.Errorf("doctor exit %d on a healthy host: %s %s", r.code, r.stdout, r.stderr)
	}
	wantCheck(t, got, "hub", doctor.OK, "answers")
	wantCheck(t, got, "broker", doctor.OK, "answers")
	wantCheck(t, got, "clock", doctor.OK, "from the hub's")
	wantCheck(t, got, "token", doctor.OK, "site-a is in 1 session(s) d")
	root := c.root("site-a")
	wantCheck(t, got, "root "+root, doctor.OK, "readable and writable")
	wantCheck(t, got, "space "+root, doctor.OK, "free of")
	wantCheck(t, got, "watches "+root, doctor.OK, "fs.inotify.max_user_watches")
	if _, ok := got["root "+c.root("site-b")]; ok {
		t.Error("doctor for site-a checked site-b's root")
	}

	// A token the hub refuses, and ports swapped: each says what to do.
	bad := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(bad, []byte("not-the-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, r = doctorRun(t, nil, "--hub", c.hubURL, "--ca", c.ca, "--token-file", bad)
	wantCheck(t, got, "token", doctor.Fail, "give an API token of this hub")
	if r.code == 0 {
		t.Error("doctor exit 0 with a refused token")
	}
	got, _ = doctorRun(t, nil, "--ca", c.ca, "--hub", strings.Replace(c.brokerWS, "wss://", "https://", 1), "--broker", strings.Replace(c.hubURL, "https://", "wss://", 1))
	wantCheck(t, got, "hub", doctor.Fail, "peerlink's broker")
	wantCheck(t, got, "broker", doctor.Fail, "peerlink's hub")
}

// An unreachable hub and broker fail, and the exit code says so; a root
// the user running doctor cannot use fails, and the checks that need it
// say they could not run.
func TestDoctorUnreachableAndForbidden(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	got, r := doctorRun(t, nil, "--hub", "http://"+closed, "--broker", "ws://"+closed)
	if r.code == 0 || !strings.Contains(r.stderr, "a check failed") {
		t.Errorf("doctor against nothing: exit %d, stderr %q", r.code, r.stderr)
	}
	wantCheck(t, got, "hub", doctor.Fail, "cannot be reached")
	wantCheck(t, got, "broker", doctor.Fail, "port 61617")
	wantCheck(t, got, "roots", doctor.Skip, "--root")

	// The binary and the folders above the root are open to the user;
	// the root is not.
	root := filepath.Join(t.TempDir(), "private")
	if err := os.Mkdir(root, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{filepath.Dir(binary), filepath.Dir(root), filepath.Dir(filepath.Dir(root))} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(binary, "doctor", "--json", "--root", root)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobodyID, Gid: nobodyID, Groups: []uint32{}}}
	cmd.Dir = "/"
	got, r = doctorOutput(t, cmd)
	if r.code == 0 {
		t.Error("doctor exit 0 on a root it cannot read")
	}
	wantCheck(t, got, "root "+root, doctor.Fail, "run doctor as the agent's user")
	for _, check := range []string{"watches", "immutable", "space"} {
		wantCheck(t, got, check+" "+root, doctor.Skip, "could not run")
	}
}

// A root on a file system without the immutable flag (ramfs), and a watch
// limit below its folders: both warned about, with what to do. The limit
// is set in a mount namespace of the test's own (a file bound over the
// sysctl), so nothing outside the test sees it.
func TestDoctorWeakFileSystemAndLowWatchLimit(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare")
	}
	dir := t.TempDir()
	root := filepath.Join(dir, "ramfs")
	limit := filepath.Join(dir, "limit")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(limit, []byte("3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf(`set -e
mount -t ramfs none %[1]q
mkdir -p %[1]q/a/b %[1]q/c %[1]q/d
mount --bind %[2]q /proc/sys/fs/inotify/max_user_watches
exec %[3]q doctor --json --root %[1]q`, root, limit, binary)
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script)
	got, _ := doctorOutput(t, cmd)
	wantCheck(t, got, "immutable "+root, doctor.Warn, "has no immutable flag")
	wantCheck(t, got, "watches "+root, doctor.Warn, "sysctl -w fs.inotify.max_user_watches=1048576")
	wantCheck(t, got, "watches "+root, doctor.Warn, "5 folders")
}
