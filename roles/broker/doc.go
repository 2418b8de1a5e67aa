// Package broker owns the live connections between the hub and the agents:
// the message broker that authenticates every peer and routes frames by
// destination name with bounded, back-pressured queues, and the Client
// through which a peer sends, requests and receives.
//
// The broker only carries. It decodes a frame's header to route it, sets
// From to the sender's authenticated name, and forwards the data bytes as
// received; it never decodes a message body except the Hello and, on a
// standalone broker run with --client-ca, the hub's Credentials addressed
// to the broker itself (credentials.go), the one thing it keeps on disk.
// Frames it
// originates itself (Peer notices to the hub, a Fail for an unreachable
// destination) have From == FromBroker, which no peer can claim.
//
// Memory is bounded: each connection has an outgoing queue limited by
// frames and bytes, a sender whose destination's queue is full waits (its
// frames stay in TCP), and a peer that does not drain its queue within the
// write deadline is disconnected. Keep-alive pings find dead peers on both
// sides within the idle timeout.
//
// Everything WebSocket-specific lives in link.go. A Client reaches it only
// through the small Transport interface, and the Client's own API speaks
// wire messages only, so the broker can be replaced by a distributed
// message engine (DESIGN.md, "Scale") without touching its callers:
// roles/broker/natslink is the Transport over a NATS cluster, and hub and
// agent pick one by the broker URL through a Dialer.
package broker
