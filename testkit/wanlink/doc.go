// Package wanlink emulates a wide-area link between two processes on
// 127.0.0.1: a TCP proxy (Toxiproxy, run in process) from a free local port
// to an upstream address, with latency, bandwidth, cuts, resets mid-stream
// and byte counters.
// The bench and the end-to-end tests put it between an agent and the
// broker, or between rsync and its daemon; the product never imports it.
//
// The kernel this was written on has no netem, so the link lives in user
// space: every byte goes through the proxy, which delays and paces it.
package wanlink
