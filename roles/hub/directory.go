package hub

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/peerlink/peerlink/roles"
	"github.com/peerlink/peerlink/web"
	"github.com/peerlink/peerlink/web/directory"
)

// directoryFlags configure sign-in against Active Directory / LDAP for
// people without a local account.
func directoryFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "ldap-url", Usage: "sign people without a local account in against this directory: ldap://HOST:389 or ldaps://HOST:636", EnvVars: []string{"PEERLINK_LDAP_URL"}},
		&cli.StringFlag{Name: "ldap-bind-dn", Usage: "the service account that searches for people (none: anonymous search)"},
		&cli.StringFlag{Name: "ldap-bind-password-file", Usage: "a file (mode 0600) whose first line is --ldap-bind-dn's password"},
		&cli.StringFlag{Name: "ldap-base", Usage: "the DN under which people are searched, e.g. ou=people,dc=example,dc=com"},
		&cli.StringFlag{Name: "ldap-user-filter", Value: "(uid=%s)", Usage: "finds a person by the name typed (%s); Active Directory: (sAMAccountName=%s)"},
		&cli.StringFlag{Name: "ldap-group-base", Usage: "the DN under which groups are searched (default --ldap-base)"},
		// Not a StringSliceFlag: it splits its values at commas, which
		// every DN holds.
		&cli.GenericFlag{Name: "ldap-group-role", Value: &repeated{}, Usage: "ROLE=GROUP-DN, repeatable: members of the group get the role (admin, helpdesk, viewer); the highest wins, and a person in no such group is refused"},
		&cli.DurationFlag{Name: "ldap-timeout", Value: directory.DefaultTimeout, Usage: "bound on each step of a sign-in against the directory"},
	}
}

// directoryFromFlags returns the directory the flags name, or nil.
func directoryFromFlags(c *cli.Context) (web.Directory, error) {
	if c.String("ldap-url") == "" {
		return nil, nil
	}
	cfg := directory.Config{URL: c.String("ldap-url"), BindDN: c.String("ldap-bind-dn"), BaseDN: c.String("ldap-base"),
		UserFilter: c.String("ldap-user-filter"), GroupBaseDN: c.String("ldap-group-base"), Timeout: c.Duration("ldap-timeout")}
	if p := c.String("ldap-bind-password-file"); p != "" {
		pw, err := roles.ReadFirstLine(p, "--ldap-bind-password-file")
		if err != nil {
			return nil, err
		}
		cfg.BindPassword = pw
	}
	var groupRoles []string
	if r, ok := c.Generic("ldap-group-role").(*repeated); ok && r != nil {
		groupRoles = *r
	}
	for _, s := range groupRoles {
		gr, err := directory.ParseGroupRole(s)
		if err != nil {
			return nil, err
		}
		cfg.Roles = append(cfg.Roles, gr)
	}
	return directory.New(cfg)
}

// repeated is the value of a repeatable flag whose values are kept whole,
// commas and all.
type repeated []string

func (r *repeated) Set(s string) error {
	*r = append(*r, s)
	return nil
}

func (r *repeated) String() string {
	if r == nil {
		return ""
	}
	return strings.Join(*r, " ; ")
}
