// Package demo runs the one-process demonstration: a hub, its broker and
// two agents on local folders, with a session between them, so that a
// newcomer sees peerlink work with one command.
package demo
