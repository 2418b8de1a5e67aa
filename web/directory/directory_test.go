//go:build linux

package directory

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/peerlink/peerlink/web/api"
)

// The directory's sign-in against a real LDAP server: Debian's slapd,
// started here on a free 127.0.0.1 port with a configuration and a
// database in a temporary folder, loaded with slapadd. .ci/run installs
// slapd and ldap-utils; elsewhere the test is skipped if slapd is missing.

const base = "dc=example,dc=com"

const slapdConf = `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile %[1]s/slapd.pid
database mdb
maxsize 10485760
suffix "dc=example,dc=com"
rootdn "cn=root,dc=example,dc=com"
rootpw root-secret
directory %[1]s/db
access to attrs=userPassword by anonymous auth by self read by * none
access to * by users read by * none
`

// people: alice is in peerlink-admins, harry in helpdesk and viewers,
// nora in a group no role maps, svc is the service account.
const seedLDIF = `dn: dc=example,dc=com
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,dc=example,dc=com
objectClass: organizationalUnit
ou: people

dn: ou=groups,dc=example,dc=com
objectClass: organizationalUnit
ou: groups

dn: cn=svc,dc=example,dc=com
objectClass: person
cn: svc
sn: svc
userPassword: svc-secret

dn: uid=alice,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: alice
cn: Alice
sn: A
userPassword: alice-secret

dn: uid=harry,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: harry
cn: Harry
sn: H
userPassword: harry-secret

dn: uid=nora,ou=people,dc=example,dc=com
objectClass: inetOrgPerson
uid: nora
cn: Nora
sn: N
userPassword: nora-secret

dn: cn=peerlink-admins,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: peerlink-admins
member: uid=alice,ou=people,dc=example,dc=com

dn: cn=helpdesk,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: helpdesk
member: uid=harry,ou=people,dc=example,dc=com

dn: cn=viewers,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: viewers
member: uid=harry,ou=people,dc=example,dc=com

dn: cn=accounting,ou=groups,dc=example,dc=com
objectClass: groupOfNames
cn: accounting
member: uid=nora,ou=people,dc=example,dc=com
`

// startSlapd runs slapd on a free loopback port until the test ends and
// returns its ldap:// URL.
func startSlapd(t *testing.T) string {
	t.Helper()
	slapd, err := exec.LookPath("slapd")
	if err != nil {
		slapd = "/usr/sbin/slapd"
	}
	if _, err := os.Stat(slapd); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("slapd is not installed, and CI is set: .ci/run installs it (apt-get install slapd ldap-utils)")
		}
		t.Skip("slapd is not installed: apt-get install slapd ldap-utils to run the LDAP sign-in tests")
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "slapd.conf")
	ldif := filepath.Join(dir, "seed.ldif")
	if err := os.WriteFile(conf, fmt.Appendf(nil, slapdConf, dir), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ldif, []byte(seedLDIF), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(filepath.Dir(slapd), "slapadd"), "-f", conf, "-l", ldif).CombinedOutput(); err != nil {
		t.Fatalf("slapadd: %v\n%s", err, out)
	}
	port := freePort(t)
	url := fmt.Sprintf("ldap://127.0.0.1:%d", port)
	// -d 0 keeps slapd in the foreground, so the test owns the process.
	cmd := exec.Command(slapd, "-f", conf, "-h", url+"/", "-d", "0")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return url
		}
		select {
		case <-exited:
			t.Fatalf("slapd exited:\n%s", logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("slapd did not listen on %s within 20 s:\n%s", url, logs.String())
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func mustGroupRole(t *testing.T, s string) GroupRole {
	t.Helper()
	gr, err := ParseGroupRole(s)
	if err != nil {
		t.Fatal(err)
	}
	return gr
}

func testConfig(t *testing.T, url string) Config {
	return Config{URL: url, BindDN: "cn=svc," + base, BindPassword: "svc-secret", BaseDN: "ou=people," + base,
		GroupBaseDN: "ou=groups," + base, Timeout: 2 * time.Second,
		Roles: []GroupRole{
			mustGroupRole(t, "admin=cn=peerlink-admins,ou=groups,"+base),
			mustGroupRole(t, "helpdesk=CN=Helpdesk,OU=Groups,DC=example,DC=com"), // case does not matter
			mustGroupRole(t, "viewer=cn=viewers,ou=groups,"+base),
		}}
}

func TestSignInAgainstSlapd(t *testing.T) {
	url := startSlapd(t)
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
