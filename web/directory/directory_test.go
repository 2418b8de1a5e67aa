//go:build linux

package directory

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/peerlink/peerlink/testkit/ports"
	"github.com/peerlink/peerlink/testkit/slapd"
	"github.com/peerlink/peerlink/web/api"
)

// The directory's sign-in against a real LDAP server: Debian's slapd,
// run by testkit/slapd. .ci/run installs slapd and ldap-utils; elsewhere
// the test is skipped if slapd is missing.

const base = slapd.Base

func freePort(t *testing.T) int { return ports.Free(t) }

func mustGroupRole(t *testing.T, s string) GroupRole {
	t.Helper()
	gr, err := ParseGroupRole(s)
	if err != nil {
		t.Fatal(err)
	}
	return gr
}

func testConfig(t *testing.T, url string) Config {
	return Config{URL: url, BindDN: slapd.ServiceDN, BindPassword: slapd.ServicePassword, BaseDN: slapd.PeopleDN,
		GroupBaseDN: slapd.GroupsDN, Timeout: 2 * time.Second,
		Roles: []GroupRole{
			mustGroupRole(t, "admin=cn=peerlink-admins,ou=groups,"+base),
			mustGroupRole(t, "helpdesk=CN=Helpdesk,OU=Groups,DC=example,DC=com"), // case does not matter
			mustGroupRole(t, "viewer=cn=viewers,ou=groups,"+base),
		}}
}

func TestSignInAgainstSlapd(t *testing.T) {
	url := slapd.Start(t).URL
	d, err := New(testConfig(t, url))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, user, password string
		want                 api.Role
		wantErr              error
		wantMsg              string
	}{
		{"a member of the admins group is an admin", "alice", "alice-secret", api.RoleAdmin, nil, ""},
		{"the highest of two mapped groups wins", "harry", "harry-secret", api.RoleHelpdesk, nil, ""},
		{"a wrong password is refused", "alice", "wrong", "", ErrWrongPassword, ""},
		{"an empty password is refused, not an anonymous bind", "alice", "", "", ErrWrongPassword, ""},
		{"an unknown user is refused like a wrong password", "mallory", "alice-secret", "", ErrWrongPassword, ""},
		{"a filter in the name finds nobody", "*", "alice-secret", "", ErrWrongPassword, ""},
		{"a person in no mapped group is refused, saying why", "nora", "nora-secret", "", ErrNoRole, "none of their groups maps to a peerlink role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := d.SignIn(context.Background(), tc.user, tc.password)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("SignIn(%s): %v, want %v", tc.user, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("SignIn(%s) = %q, want %q", tc.user, got, tc.want)
			}
			if tc.wantMsg != "" && !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not say %q", err, tc.wantMsg)
			}
		})
	}

	cfg := testConfig(t, url)
	cfg.BindPassword = "not-the-service-password"
	bad, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.SignIn(context.Background(), "alice", "alice-secret"); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "--ldap-bind-dn") {
		t.Errorf("wrong service password: %v, want ErrUnavailable naming --ldap-bind-dn", err)
	}
}

// A directory that is down, or that accepts a connection and never
// answers, fails the sign-in with ErrUnavailable within its timeout
// rather than hanging it.
func TestSignInDirectoryDown(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered, until the test ends
		}
	}()
	for _, tc := range []struct{ name, url string }{
		{"nothing listens", fmt.Sprintf("ldap://127.0.0.1:%d", freePort(t))},
		{"a server that never answers", "ldap://" + silent.Addr().String()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, tc.url)
			cfg.Timeout = 500 * time.Millisecond
			d, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err = d.SignIn(ctx, "alice", "alice-secret")
			if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "sign in with a local account") {
				t.Errorf("SignIn: %v, want ErrUnavailable saying what to do", err)
			}
			if ctx.Err() != nil {
				t.Errorf("SignIn returned only when the test's own deadline passed")
			}
		})
	}
}

func TestParseGroupRole(t *testing.T) {
	for _, tc := range []struct {
		in      string
		role    api.Role
		wantErr bool
	}{
		{"admin=cn=a,dc=x", api.RoleAdmin, false},
		{" viewer = cn=v,ou=g,dc=x", api.RoleViewer, false},
		{"root=cn=a,dc=x", "", true},
		{"admin", "", true},
		{"admin=not a dn", "", true},
	} {
		gr, err := ParseGroupRole(tc.in)
		if (err != nil) != tc.wantErr || (err == nil && gr.Role != tc.role) {
			t.Errorf("ParseGroupRole(%q) = %+v, %v", tc.in, gr, err)
		}
	}
	if _, err := ldap.ParseDN("cn=a,dc=x"); err != nil {
		t.Fatal(err)
	}
}
