// Package hub coordinates peerlink sessions: it keeps their configuration,
// the index of each one's last synchronised state and their live status,
// and drives the start-up of the seed's Step 1 — attach, scan, merge and
// resolve, transfer — over the broker. It decides; agents act. It never
// opens a file of a watch set.
package hub
