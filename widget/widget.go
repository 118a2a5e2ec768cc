// Package widget serves the visitor chat widget: the loader script
// /widget/{widget_key}.js that a site pastes in (see the embed snippet of
// GET /api/departments/{id}/embed) and a demo page at /demo that embeds the
// first public department's widget, so a newcomer can chat with themselves.
//
// The widget is plain JavaScript embedded in the binary (no build step,
// nothing from a CDN). One request brings everything: the code, its styles
// and the department's settings (name, locale, pre-chat form). It speaks only
// the public visitor protocol.
package widget

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/store"
)

//go:embed assets/widget.js assets/widget.css assets/demo.html
var files embed.FS

// Departments is what the widget needs from the store.
type Departments interface {
	DepartmentByWidgetKey(ctx context.Context, key string) (switchboard.Department, error)
	Departments(ctx context.Context, p store.Page) ([]switchboard.Department, string, error)
}

// Config configures the handler.
type Config struct {
	Store Departments // required
	// PublicURL is where browsers reach the server; the loader falls back to
	// it only when it cannot read its own script URL.
	PublicURL string
	Log       *slog.Logger
}

// Handler serves GET /widget/{file} and GET /demo.
type Handler struct {
	store     Departments
	publicURL string
	log       *slog.Logger
	js, css   string
	demo      *template.Template
}

// New returns the widget handler. Register it for "GET /widget/{file}" and
// "GET /demo" (server.New does).
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("widget: Config.Store is required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	js, err := files.ReadFile("assets/widget.js")
	if err != nil {
		return nil, fmt.Errorf("widget: %w", err)
	}
	css, err := files.ReadFile("assets/widget.css")
	if err != nil {
		return nil, fmt.Errorf("widget: %w", err)
	}
	demo, err := template.ParseFS(files, "assets/demo.html")
	if err != nil {
		return nil, fmt.Errorf("widget: demo page: %w", err)
	}
	return &Handler{store: cfg.Store, publicURL: strings.TrimRight(cfg.PublicURL, "/"), log: cfg.Log,
		js: string(js), css: minifyCSS(string(css)), demo: demo}, nil
}

// ServeHTTP dispatches to the loader or the demo page.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/demo" {
		h.serveDemo(w, r)
		return
	}
	h.serveLoader(w, r)
}

// config is what the loader learns about its department; the protocol's
// hello tells it the rest (online, open chats).
type config struct {
	Key        string                      `json:"key"`
	Department idName                      `json:"department"`
	Locale     string                      `json:"locale"` // "en", "ja" or "auto"
	Prechat    switchboard.PrechatSettings `json:"prechat"`
	Base       string                      `json:"base"`
}

type idName struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// department returns the public, enabled department of key; anything else
// is ErrNotFound, so a private or disabled department looks like no widget.
func (h *Handler) department(ctx context.Context, key string) (switchboard.Department, error) {
	if key == "" {
		return switchboard.Department{}, switchboard.ErrNotFound
	}
	d, err := h.store.DepartmentByWidgetKey(ctx, key)
	if err == nil && (d.Visibility != switchboard.Public || !d.Enabled) {
		err = switchboard.ErrNotFound
	}
	return d, err
}

// Script returns the loader script of department d, as served.
func (h *Handler) Script(d switchboard.Department) []byte {
	cfg := config{Key: d.WidgetKey, Department: idName{ID: d.ID, Name: d.Name}, Locale: d.Locale, Prechat: d.Prechat, Base: h.publicURL}
	if cfg.Locale == "" {
		cfg.Locale = "auto"
	}
	c, _ := json.Marshal(cfg)   // plain strings only: cannot fail; < > & are escaped
	s, _ := json.Marshal(h.css) // likewise
	var b bytes.Buffer
	b.Grow(len(h.js) + len(h.css) + 512)
	b.WriteString("/* Switchboard chat widget */\n(function (CFG, CSS) {\n")
	b.WriteString(h.js)
	b.WriteString("\n})(")
	b.Write(c)
	b.WriteString(", ")
	b.Write(s)
	b.WriteString(");\n")
	return b.Bytes()
}

func (h *Handler) serveLoader(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutSuffix(r.PathValue("file"), ".js")
	if !ok {
		notFound(w)
		return
	}
	d, err := h.department(r.Context(), key)
	if errors.Is(err, switchboard.ErrNotFound) {
		notFound(w)
		return
	}
	if err != nil {
		h.log.Error("widget loader: load department", "err", err)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	body := h.Script(d)
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	hd := w.Header()
	hd.Set("Content-Type", "text/javascript; charset=utf-8")
	hd.Set("X-Content-Type-Options", "nosniff")
	// Settings (name, locale, pre-chat form) take effect on the next page
	// view: revalidate every time, a 304 costs nothing.
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", etag)
	hd.Set("Vary", "Accept-Encoding")
	// Embedding pages are other sites: let them load it whatever their
	// Cross-Origin-Embedder-Policy.
	hd.Set("Cross-Origin-Resource-Policy", "cross-origin")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		hd.Set("Content-Encoding", "gzip")
		gz := gzip.NewWriter(w)
		gz.Write(body)
		gz.Close()
		return
	}
	w.Write(body)
}

func notFound(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNotFound)
	fmt.Fprintln(w, "no such widget")
}

// demoCSP is strict, like a careful site's: scripts only from this server,
// no inline styles. The widget must work under it (its styles go in through
// adoptedStyleSheets, which style-src does not govern).
const demoCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// serveDemo renders the demo page for ?key=KEY or, without it, the first
// public, enabled department.
func (h *Handler) serveDemo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	var d switchboard.Department
	var err error
	if key := r.URL.Query().Get("key"); key != "" {
		d, err = h.department(ctx, key)
	} else {
		d, err = h.firstPublic(ctx)
	}
	status := http.StatusOK
	if errors.Is(err, switchboard.ErrNotFound) {
		status = http.StatusNotFound
	} else if err != nil {
		h.log.Error("widget demo: load department", "err", err)
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	lang := d.Locale
	if lang == "" {
		lang = "en"
	}
	data := map[string]any{"Found": status == http.StatusOK, "Name": d.Name, "Lang": lang}
	if l := r.URL.Query().Get("locale"); l == "en" || l == "ja" {
		data["Lang"], data["Locale"] = l, l // data-locale on the tag: the snippet's override
	}
	if status == http.StatusOK {
		// Relative, so the page works whatever host name it was opened by;
		// the snippet of GET /api/departments/{id}/embed carries the public URL.
		data["Src"] = "/widget/" + d.WidgetKey + ".js"
		data["Snippet"] = fmt.Sprintf("<script src=\"%s/widget/%s.js\" async></script>", h.publicURL, d.WidgetKey)
	}
	var b bytes.Buffer
	if err := h.demo.Execute(&b, data); err != nil {
		h.log.Error("widget demo: render", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", demoCSP)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// firstPublic returns the oldest public, enabled department.
func (h *Handler) firstPublic(ctx context.Context) (switchboard.Department, error) {
	p := store.Page{Limit: 200}
	for {
		items, next, err := h.store.Departments(ctx, p)
		if err != nil {
			return switchboard.Department{}, err
		}
		for _, d := range items {
			if d.Visibility == switchboard.Public && d.Enabled && d.WidgetKey != "" {
				return d, nil
			}
		}
		if next == "" {
			return switchboard.Department{}, switchboard.ErrNotFound
		}
		p.Cursor = next
	}
}

// minifyCSS drops comments and indentation: a third off the styles' size
// for nothing.
func minifyCSS(s string) string {
	var b strings.Builder
	for {
		i := strings.Index(s, "/*")
		if i < 0 {
			break
		}
		b.WriteString(s[:i])
		j := strings.Index(s[i:], "*/")
		if j < 0 {
			s = ""
			break
		}
		s = s[i+j+2:]
	}
	b.WriteString(s)
	var out strings.Builder
	for line := range strings.SplitSeq(b.String(), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			out.WriteString(line)
			out.WriteByte(' ')
		}
	}
	return strings.TrimSpace(out.String())
}
