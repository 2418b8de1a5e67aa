package web

import (
	"embed"
	"io/fs"
)

// consoleFiles holds the browser console, served at / and /assets/.
// (A placeholder page until the console itself lands.)
//
//go:embed console
var consoleFiles embed.FS

// ConsoleFS returns the console's files with the console directory as root.
func ConsoleFS() fs.FS {
	sub, _ := fs.Sub(consoleFiles, "console")
	return sub
}
