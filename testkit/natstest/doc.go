// Package natstest runs a NATS server inside a test's process, on a free
// port of 127.0.0.1, from a configuration written the way an operator
// writes one (so that `include "peerlink-users.conf"`, as `peerlink
// nats-config` tells them to write, is read as nats-server reads it).
// The tests of natslink, doctor and e2e share it; the product never
// imports it.
package natstest
