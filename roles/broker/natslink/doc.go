// Package natslink carries the broker's wire frames over a NATS cluster, in
// place of the built-in broker, for companies whose offices outgrow one.
//
// A peer publishes each frame, unchanged, to peerlink.to.DEST.SELF.INSTANCE
// and reads its own peerlink.to.SELF.*.* subjects; the NATS servers'
// per-user permissions (nats-config, Config) let a user publish only with
// its own name in the sender's place and read only its own subjects, so
// the sender a frame's subject names is the one NATS authenticated, as the
// built-in broker sets From. Presence beats on peerlink.presence.NAME stand
// in for the broker's Peer notices (presence.go). Frames larger than the
// servers' max_payload travel in fragments (frag.go), one frame at a time
// per link; what a link carried is counted in Stats for the metrics.
package natslink
