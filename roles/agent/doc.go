// Package agent is the peerlink agent of one file server: it keeps a link to
// the broker, and answers the hub's requests on the watch-set roots attached
// to it (scan, apply) and other agents' reads of its files: commands from
// the hub alone, reads from the session's hosts of the paths it takes
// (senders.go). Everything that touches the local file system goes through
// sync/tree; the agent decides nothing about conflicts.
package agent
