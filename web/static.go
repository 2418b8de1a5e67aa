package web

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"time"
)

// openapiDoc is the OpenAPI 3.0 document of every route, served without
// sign-in: it describes the API, nothing of the hub's state.
//
//go:embed openapi.yaml
var openapiDoc []byte

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "openapi.yaml", time.Time{}, bytes.NewReader(openapiDoc))
}

// index serves the console's page; it signs in (or not) by itself.
func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	s.serveConsoleFile(w, r, "index.html")
}

// asset serves the console's script, stylesheet and icon.
func (s *Server) asset(w http.ResponseWriter, r *http.Request) {
	s.serveConsoleFile(w, r, r.PathValue("file"))
}

func (s *Server) serveConsoleFile(w http.ResponseWriter, r *http.Request, name string) {
	if !fs.ValidPath(name) || name == "." {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(ConsoleFS(), name)
	if err != nil { // not there, or a folder
		http.NotFound(w, r)
		return
	}
	// Embedded, so they change only with the binary: the browser checks
	// (ETag) before it uses what it has.
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("ETag", etag(b))
	http.ServeContent(w, r, path.Base(name), time.Time{}, bytes.NewReader(b))
}

func etag(b []byte) string {
	sum := sha256.Sum256(b)
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}
