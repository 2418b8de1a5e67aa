// Package api defines the hub's REST API: the JSON shapes that the CLI, the
// web console and other tools script against, and a client for them. The
// shapes are a stable contract: fields are only ever added.
package api
