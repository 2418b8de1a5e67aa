// Package wire defines everything that crosses the network between hub,
// broker and agents: the frame layout, the version handshake, the typed
// messages, the paths they carry and the errors that keep their shape across
// hosts. It performs no I/O and imports nothing of peerlink's, so every
// decoder can be fuzzed on its own.
package wire
