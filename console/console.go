// Package console serves the operator console: a single-page app of plain
// ES modules embedded in the binary (no build step, nothing from a CDN).
// It speaks only the public HTTP API and the operator WebSocket protocol.
package console

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed index.html assets
var files embed.FS

// csp is strict: scripts and styles only from our own files (no inline
// code, so an injected string can never run), WebSockets to the server.
// 'self' alone does not cover ws:/wss: in every browser, hence the schemes.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self' ws: wss:; media-src 'none'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// Handler serves the console: its page at "/", "/console" and
// "/console/" and its files under "/console/assets/".
func Handler() http.Handler {
	assets, err := fs.Sub(files, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	static := http.StripPrefix("/console/assets/", http.FileServerFS(assets))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "same-origin")
		if strings.HasPrefix(r.URL.Path, "/console/assets/") {
			// Files change only with the binary; revalidate so an upgrade
			// is picked up at once.
			w.Header().Set("Cache-Control", "no-cache")
			static.ServeHTTP(w, r)
			return
		}
		switch r.URL.Path {
		case "/", "/console", "/console/":
		default:
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Frame-Options", "DENY")
		http.ServeFileFS(w, r, files, "index.html")
	})
}
