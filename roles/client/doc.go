// Package client is the command-line client of the hub's REST API: the
// session, conflicts, locks and status commands, their progress display,
// and the argument order urfave/cli needs.
package client
