// Package directory signs people in to the console against Active
// Directory or another LDAP server: it binds as the person, reads their
// groups, and maps the groups to a peerlink role.
package directory
