// Package enrol owns how an agent gets its credential from the hub: the
// join code an administrator creates (one line holding a single-use secret,
// the host it enrols and the hash of the hub's CA), the join exchange
// (a certificate request sent with the secret, over TLS pinned to that
// hash, answered with a client certificate signed by the hub's CA), and
// the decoding of that exchange on the hub's side.
package enrol
