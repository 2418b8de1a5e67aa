// Package web serves the hub's REST API (and, later, its console) over
// HTTP. Handlers only translate between HTTP and the coordinator: every
// decision is the hub's.
package web
