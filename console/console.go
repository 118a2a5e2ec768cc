// Package console serves the operator console, a single-page app embedded
// in the binary.
package console

import (
	"embed"
	"net/http"
)

//go:embed index.html
var files embed.FS

// Handler serves the console's page.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeFileFS(w, r, files, "index.html")
	})
}
