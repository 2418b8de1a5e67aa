//go:build linux

package slapd

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peerlink/peerlink/testkit/ports"
)

// Base is the seeded directory's suffix.
const Base = "dc=example,dc=com"

// The seed's accounts: ServiceDN (password ServicePassword) searches for
// people; alice is in peerlink-admins, harry in helpdesk and viewers,
// nora only in accounting, which no role maps. Each person's password is
// their name followed by "-secret".
const (
	ServiceDN       = "cn=svc," + Base
	ServicePassword = "svc-secret"
	PeopleDN        = "ou=people," + Base
	GroupsDN        = "ou=groups," + Base
)

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

// seedLDIF holds the accounts and groups described above.
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

// Server is a running slapd, stopped when the test ends.
type Server struct {
	URL string // ldap://127.0.0.1:PORT

	cmd    *exec.Cmd
	exited chan struct{}
	once   sync.Once
}

// Start runs slapd until the test ends and returns it once it listens.
// Without slapd the test is skipped, unless CI is set: CI installs it
// (apt-get install slapd ldap-utils), so there it fails instead.
func Start(t testing.TB) *Server {
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
	s := &Server{URL: fmt.Sprintf("ldap://127.0.0.1:%d", port), exited: make(chan struct{})}
	// -d 0 keeps slapd in the foreground, so the test owns the process.
	s.cmd = exec.Command(slapd, "-f", conf, "-h", s.URL+"/", "-d", "0")
	var logs strings.Builder
	s.cmd.Stdout, s.cmd.Stderr = &logs, &logs
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(s.Stop)
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return s
		}
		select {
		case <-s.exited:
			t.Fatalf("slapd exited:\n%s", logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("slapd did not listen on %s within 20 s:\n%s", s.URL, logs.String())
		}
	}
}

// Stop ends slapd and waits for it: the directory goes down.
func (s *Server) Stop() {
	s.once.Do(func() {
		s.cmd.Process.Kill()
		<-s.exited
	})
}

func freePort(t testing.TB) int { return ports.Free(t) }
