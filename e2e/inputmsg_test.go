//go:build linux

package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Refusals that said the wrong thing: a folder replaced by a symlink was
// reported as "invalid cross-device link", and the sign-in limit of all
// addresses together named an address that never tried.

// A folder replaced by a symlink on one host while the session runs:
// what the session then writes through it (a folder and a file created in
// it on another host) is refused there, with a message that names the
// symlink, says it stands where the session has a folder and what to do;
// nothing is written where it points.
func TestInputFolderReplacedBySymlink(t *testing.T) {
	t.Parallel()
	c := optCluster(t, hostsAB...)
	put(t, c, "docs/a.txt", fileAt{"a\n", tAt(0)}, "site-a")
	c.createSession("s", hostsAB)
	startClean(t, c, "s")

	outside := filepath.Join(c.dir, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	docsA, docsB := filepath.Join(c.root("site-a"), "docs"), filepath.Join(c.root("site-b"), "docs")
	if err := os.RemoveAll(docsB); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, docsB); err != nil {
		t.Fatal(err)
	}
	// site-b's deletion of the folder reaches site-a first.
	waitFor(t, 30*time.Second, "site-b's deletion of docs to reach site-a", func() bool {
		_, err := os.Lstat(docsA)
		return errors.Is(err, fs.ErrNotExist)
	})
	writeFile(t, c.root("site-a"), "docs/new.txt", "new\n", time.Time{})

	want := []string{"site-b", "docs is a symlink (to " + outside + ") where the session has a folder", "put the folder back", "--exclude /docs"}
	var text string
	waitFor(t, 30*time.Second, "site-b's refusal in the session status", func() bool {
		text = c.mustCLI("session", "status", "s")
		return strings.Contains(text, want[1])
	})
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("session status does not say %q:\n%s", w, text)
		}
	}
	for _, bad := range []string{"invalid cross-device link", "path escapes from parent"} {
		if strings.Contains(text, bad) {
			t.Errorf("session status says %q:\n%s", bad, text)
		}
	}
	if ents, err := os.ReadDir(outside); err != nil || len(ents) != 0 {
		t.Errorf("the symlink's target holds %v (%v), want nothing written through it", ents, err)
	}
	if fi, err := os.Lstat(docsB); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("site-b's docs is now %v (%v), want the symlink left alone", fi, err)
	}
}

// When every address together has used up the sign-in limit, an address
// that never tried is refused without being named as the guesser.
func TestInputSignInLimitNamesNoInnocent(t *testing.T) {
	t.Parallel()
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("right-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := newCluster(t, "--admin-password-file", pw)
	from := func(ip string) (int, string) {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
		tr := trusting(t, c.ca).(*http.Transport)
		tr.DialContext, tr.DisableKeepAlives = d.DialContext, true
		cl := &http.Client{Timeout: time.Minute, Transport: tr}
		req, err := http.NewRequestWithContext(context.Background(), "POST", c.hubURL+"/api/v1/login", strings.NewReader(`{"password":"guess"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatalf("sign in from %s: %v", ip, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// Five guesses from each of twelve addresses: sixty, the limit of all
	// addresses together.
	for n := 1; n <= 12; n++ {
		for range 5 {
			if code, body := from(fmt.Sprintf("127.0.0.%d", n+1)); code != http.StatusUnauthorized {
				t.Fatalf("guess from 127.0.0.%d: %d %s, want 401", n+1, code, body)
			}
		}
	}
	code, body := from("127.0.0.99")
	if code != http.StatusTooManyRequests {
		t.Fatalf("a first guess from a new address after sixty: %d %s, want 429", code, body)
	}
	if strings.Contains(body, "127.0.0.99") || !strings.Contains(body, "all addresses") {
		t.Errorf("the refusal of an address that never tried says %s; want all addresses blamed, not it", body)
	}
}
