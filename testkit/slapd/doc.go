// Package slapd runs a real LDAP server for tests: Debian's slapd, on a
// free 127.0.0.1 port, with its configuration and database in a
// temporary folder, seeded with a few people and groups. Tests of the
// directory sign-in (web/directory) and of the hub with --ldap-* flags
// (e2e) share it; it is never imported by the product.
package slapd
