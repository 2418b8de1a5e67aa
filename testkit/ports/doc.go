// Package ports picks free TCP ports on 127.0.0.1 for tests and the
// project's own tooling (bench, chaos), which start servers whose
// address must be known before they listen: a flag of a process, a NATS
// configuration, a route between NATS nodes. The product never imports it.
//
// A port is free when it is picked, not when it is used: another process
// may take it in between. Where a server can listen on port 0 and report
// its address, that is better.
package ports
