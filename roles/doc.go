// Package roles holds what the ways of running the peerlink binary share:
// data directories, the hub token, listeners and the flags every role
// reads. Each way of running it is a package below: roles/hub (with its
// embedded broker), roles/broker, roles/agent, roles/demo and roles/client,
// the command-line client of the hub's REST API.
package roles
