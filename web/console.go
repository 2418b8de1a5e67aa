package web

import (
	"embed"
	"io/fs"
)

// console holds the browser console: a page, its JavaScript modules (app.js
// imports the others), one stylesheet and an icon, written by hand (no build
// step) and loading nothing from outside the hub. The hub serves them flat
// under /assets/.
//
//go:embed console
var console embed.FS

// ConsoleFS returns the console's files with the console directory as root:
// index.html, app.js (and the modules it imports), style.css and
// favicon.svg.
func ConsoleFS() fs.FS {
	sub, err := fs.Sub(console, "console")
	if err != nil {
		panic(err) // the embedded tree always has the directory
	}
	return sub
}
