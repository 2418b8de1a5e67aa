// Package certs builds the TLS configurations of peerlink's connections
// across offices: a server's (the console and API, the broker) from its
// certificate and key files, and a client's (agents, the CLI, a hub using a
// standalone broker), which trusts the system's roots plus an optional CA
// bundle for self-signed deployments. There is deliberately no way to skip
// verification.
package certs
