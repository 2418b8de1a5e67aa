package directory

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/peerlink/peerlink/web/api"
)

// Kinds of failed sign-in, for the console to answer each its own way.
var (
	ErrWrongPassword = errors.New("wrong user name or password")
	ErrNoRole        = errors.New("no group maps to a peerlink role")
	ErrUnavailable   = errors.New("directory unavailable")
)

// DefaultTimeout bounds each step of a sign-in against the directory
// (connecting, binding, each search), so a server that is down or slow
// fails the sign-in instead of hanging it.
const DefaultTimeout = 5 * time.Second

// Config says where the directory is and how its groups map to roles.
type Config struct {
	URL          string // ldap://host:389 or ldaps://host:636
	BindDN       string // the service account that finds people; empty: anonymous
	BindPassword string
	BaseDN       string // where people are searched
	// UserFilter finds a person by the name they type; %s is replaced by
	// the name, escaped. Default (uid=%s); Active Directory:
	// (sAMAccountName=%s).
	UserFilter string
	// GroupBaseDN is where groups naming the person as a member are
	// searched (member or uniqueMember); empty: BaseDN. A person's
	// memberOf attribute (Active Directory) counts too.
	GroupBaseDN string
	// Roles maps group DNs to roles; a person gets the highest.
	Roles   []GroupRole
	Timeout time.Duration // each step; 0: DefaultTimeout
	TLS     *tls.Config   // for ldaps:// (nil: the system's roots)
}

// GroupRole maps one group to a role.
type GroupRole struct {
	Group *ldap.DN
	Role  api.Role
}

// ParseGroupRole reads ROLE=GROUP-DN, the form of --ldap-group-role.
func ParseGroupRole(s string) (GroupRole, error) {
	role, group, ok := strings.Cut(s, "=")
	if !ok {
		return GroupRole{}, fmt.Errorf("--ldap-group-role %q: give ROLE=GROUP-DN, e.g. admin=cn=peerlink-admins,ou=groups,dc=example,dc=com", s)
	}
	r, err := api.ParseRole(strings.TrimSpace(role))
	if err != nil {
		return GroupRole{}, fmt.Errorf("--ldap-group-role %q: %w", s, err)
	}
	dn, err := ldap.ParseDN(strings.TrimSpace(group))
	if err != nil || len(dn.RDNs) == 0 {
		return GroupRole{}, fmt.Errorf("--ldap-group-role %q: the group is not a DN (%v): give it as cn=NAME,ou=...,dc=...", s, err)
	}
	return GroupRole{Group: dn, Role: r}, nil
}

// Directory signs people in against one LDAP server.
type Directory struct {
	cfg Config
}

// New checks cfg and returns its Directory; no connection is made yet.
func New(cfg Config) (*Directory, error) {
	if !strings.HasPrefix(cfg.URL, "ldap://") && !strings.HasPrefix(cfg.URL, "ldaps://") {
		return nil, fmt.Errorf("--ldap-url %q: give ldap://HOST:389 or ldaps://HOST:636", cfg.URL)
	}
	if cfg.BaseDN == "" {
		return nil, errors.New("--ldap-base is required with --ldap-url: the DN under which people are searched")
	}
	if len(cfg.Roles) == 0 {
		return nil, errors.New("--ldap-group-role is required with --ldap-url: map at least one group to a role (admin=cn=...)")
	}
	if cfg.UserFilter == "" {
		cfg.UserFilter = "(uid=%s)"
	}
	if strings.Count(cfg.UserFilter, "%s") != 1 {
		return nil, fmt.Errorf("--ldap-user-filter %q: it must hold %%s once, where the name goes", cfg.UserFilter)
	}
	if cfg.GroupBaseDN == "" {
		cfg.GroupBaseDN = cfg.BaseDN
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Directory{cfg: cfg}, nil
}

// SignIn checks password for user and returns the highest role their
// groups map to. Its errors wrap ErrWrongPassword, ErrNoRole or
// ErrUnavailable, and say what to do.
func (d *Directory) SignIn(ctx context.Context, user, password string) (api.Role, error) {
	// An empty password would be an unauthenticated bind, which many
	// servers accept for any DN.
	if user == "" || password == "" {
		return "", ErrWrongPassword
	}
	conn, err := d.dial(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	if d.cfg.BindDN != "" {
		if err := conn.Bind(d.cfg.BindDN, d.cfg.BindPassword); err != nil {
			return "", d.unavailable("bind as --ldap-bind-dn "+d.cfg.BindDN+" (check it and --ldap-bind-password-file)", err)
		}
	}
	dn, memberOf, err := d.findUser(conn, user)
	if err != nil {
		return "", err
	}
	groups, err := d.groupsOf(conn, dn)
	if err != nil {
		return "", err
	}
	groups = append(groups, memberOf...)
	if err := conn.Bind(dn, password); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return "", ErrWrongPassword
		}
		return "", d.unavailable("bind as "+dn, err)
	}
	role := d.roleOf(groups)
	if role == "" {
		return "", fmt.Errorf("%w: %s signed in to the directory, but none of their groups maps to a peerlink role: "+
			"ask an administrator to add one of them to the hub's --ldap-group-role", ErrNoRole, user)
	}
	return role, nil
}

func (d *Directory) dial(ctx context.Context) (*ldap.Conn, error) {
	dialer := &net.Dialer{Timeout: d.cfg.Timeout}
	if dl, ok := ctx.Deadline(); ok {
		dialer.Deadline = dl
	}
	opts := []ldap.DialOpt{ldap.DialWithDialer(dialer)}
	if d.cfg.TLS != nil {
		opts = append(opts, ldap.DialWithTLSConfig(d.cfg.TLS))
	}
	conn, err := ldap.DialURL(d.cfg.URL, opts...)
	if err != nil {
		return nil, d.unavailable("connect", err)
	}
	conn.SetTimeout(d.cfg.Timeout)
	return conn, nil
}

func (d *Directory) unavailable(step string, err error) error {
	return fmt.Errorf("%w: %s %s: %v: sign in with a local account, or ask the administrator to check the directory and the hub's --ldap-* settings",
		ErrUnavailable, d.cfg.URL, step, err)
}

// findUser returns the DN of the one entry UserFilter finds for user,
// and its memberOf values.
func (d *Directory) findUser(conn *ldap.Conn, user string) (string, []string, error) {
	filter := strings.Replace(d.cfg.UserFilter, "%s", ldap.EscapeFilter(user), 1)
	req := ldap.NewSearchRequest(d.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2,
		int(d.cfg.Timeout/time.Second), false, filter, []string{"memberOf"}, nil)
	res, err := conn.Search(req)
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		return "", nil, d.unavailable("search for "+filter, err)
	}
	if res == nil || len(res.Entries) != 1 {
		return "", nil, ErrWrongPassword // none, or not one person
	}
	e := res.Entries[0]
	return e.DN, e.GetAttributeValues("memberOf"), nil
}

// groupsOf returns the DNs of the groups that name dn as a member.
func (d *Directory) groupsOf(conn *ldap.Conn, dn string) ([]string, error) {
	esc := ldap.EscapeFilter(dn)
	filter := "(|(member=" + esc + ")(uniqueMember=" + esc + "))"
	req := ldap.NewSearchRequest(d.cfg.GroupBaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0,
		int(d.cfg.Timeout/time.Second), false, filter, []string{"dn"}, nil)
	res, err := conn.Search(req)
	if err != nil {
		return nil, d.unavailable("search the groups of "+dn, err)
	}
	out := make([]string, 0, len(res.Entries))
	for _, e := range res.Entries {
		out = append(out, e.DN)
	}
	return out, nil
}

// roleOf returns the highest role that one of groups maps to, or "".
func (d *Directory) roleOf(groups []string) api.Role {
	var best api.Role
	for _, g := range groups {
		dn, err := ldap.ParseDN(g)
		if err != nil {
			continue
		}
		for _, gr := range d.cfg.Roles {
			if gr.Group.EqualFold(dn) && gr.Role.Rank() > best.Rank() {
				best = gr.Role
			}
		}
	}
	return best
}
