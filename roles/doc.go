// Package roles wires peerlink's parts into the processes the binary runs —
// hub (with its embedded broker), broker, agent and the one-process demo —
// from their command-line settings. It holds no logic of its own beyond
// listeners, data directories and the hub token.
package roles
