package widget_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-chat/switchboard"
	bt "github.com/switchboard-chat/switchboard/internal/browsertest"
	"github.com/switchboard-chat/switchboard/internal/testnode"
	"github.com/switchboard-chat/switchboard/server"
	"github.com/switchboard-chat/switchboard/store"
	"github.com/switchboard-chat/switchboard/store/sqlite"
)

// env is one Switchboard server on SQLite, reached by browsers through a
// TCP proxy that the test can cut (browsertest.NetCut: a network drop),
// with the first admin logged in.
type env struct {
	t          testing.TB
	st         store.Store
	srv        *server.Server
	http       *httptest.Server // the server itself (operators connect here)
	proxy      *bt.NetCut       // the public URL: what browsers use
	adminToken string
	dept       switchboard.Department // the default department, public
	tn         *testnode.Node
}

func newEnv(t testing.TB) *env {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "switchboard.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	proxy := bt.NewNetCut(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	tn := testnode.Start(t, st, server.Config{PublicURL: proxy.URL(), Log: log})
	proxy.Serve(tn.Addr())
	return &env{t: t, st: st, srv: tn.Server, http: tn.HTTP, proxy: proxy, adminToken: tn.AdminToken, dept: tn.Dept, tn: tn}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// api calls the HTTP API on the server and checks the status.
func (e *env) api(token, method, path string, body any, want int, out any) []byte {
	e.t.Helper()
	return e.tn.API(token, method, path, body, want, out)
}

// operator creates an operator in the given departments and returns a
// bearer token.
func (e *env) operator(name string, deptIDs ...string) string {
	e.t.Helper()
	email := name + "@example.com"
	var o struct{ ID string }
	e.api(e.adminToken, "POST", "/api/operators", map[string]any{"name": name, "email": email, "password": "password-" + name, "role": "operator", "max_chats": 5}, 201, &o)
	for _, d := range deptIDs {
		e.api(e.adminToken, "PUT", "/api/departments/"+d+"/operators/"+o.ID, nil, 204, nil)
	}
	var login struct{ Token string }
	e.api("", "POST", "/api/login", map[string]string{"email": email, "password": "password-" + name}, 200, &login)
	return login.Token
}

// hostPage serves a page on another origin than the server, with the embed
// snippet of dept pasted in as GET /api/departments/{id}/embed gives it,
// and hostile CSS that must not reach the widget. It returns the page's
// URL; the page's origin is added to the department's allowed origins.
func (e *env) hostPage(dept switchboard.Department, lang string) string {
	e.t.Helper()
	var embed struct{ Snippet string }
	e.api(e.adminToken, "GET", "/api/departments/"+dept.ID+"/embed", nil, 200, &embed)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		snippet := embed.Snippet
		if l := r.URL.Query().Get("data-locale"); l != "" {
			snippet = strings.Replace(snippet, "<script ", `<script data-locale="`+l+`" `, 1)
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="%s"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shop</title>
<style>
  * { color: rgb(255, 0, 0) !important; font-family: serif !important; }
  button { display: none !important; }
  div, p, section { background: rgb(0, 255, 0) !important; border: 5px dashed black !important; }
</style></head>
<body><h1>A shop that embeds the chat</h1><p>Lorem ipsum.</p>
%s</body></html>`, lang, snippet)
	}))
	e.t.Cleanup(page.Close)
	origin := page.URL // http://127.0.0.1:PORT
	_, err := e.st.UpdateDepartment(e.t.Context(), dept.ID, func(d *switchboard.Department) error {
		d.AllowedOrigins = append(d.AllowedOrigins, origin)
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return page.URL + "/"
}

// opConn is an operator's WebSocket, read by a goroutine into frames.
type opConn struct {
	t      testing.TB
	c      *websocket.Conn
	frames chan map[string]any
	ref    int
}

func (e *env) operatorConn(token string) *opConn {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.http.URL, "http")+"/ws/operator",
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	if err != nil {
		e.t.Fatalf("operator dial: %v", err)
	}
	o := &opConn{t: e.t, c: c, frames: make(chan map[string]any, 1000)}
	go func() {
		defer close(o.frames)
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				return
			}
			var f map[string]any
			if json.Unmarshal(data, &f) == nil {
				o.frames <- f
			}
		}
	}()
	e.t.Cleanup(func() { c.Close(websocket.StatusNormalClosure, "") })
	o.await("hello", nil)
	return o
}

// send writes a frame with a fresh ref and returns the ref.
func (o *opConn) send(f map[string]any) string {
	o.t.Helper()
	o.ref++
	ref := fmt.Sprint(o.ref)
	f["ref"] = ref
	data, _ := json.Marshal(f)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := o.c.Write(ctx, websocket.MessageText, data); err != nil {
		o.t.Fatalf("operator write: %v", err)
	}
	return ref
}

// await returns the next frame of type typ for which match (if any) holds,
// dropping others; it fails the test after 10 s.
func (o *opConn) await(typ string, match func(map[string]any) bool) map[string]any {
	o.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case f, ok := <-o.frames:
			if !ok {
				o.t.Fatalf("operator connection closed while waiting for %s", typ)
			}
			if f["type"] == "error" {
				o.t.Logf("operator got error frame: %v", f)
			}
			if f["type"] == typ && (match == nil || match(f)) {
				return f
			}
		case <-timeout:
			o.t.Fatalf("operator: no %s frame within 10s", typ)
		}
	}
}

// call sends a frame and waits for its ack.
func (o *opConn) call(f map[string]any) map[string]any {
	o.t.Helper()
	ref := o.send(f)
	timeout := time.After(10 * time.Second)
	for {
		select {
		case g, ok := <-o.frames:
			if !ok {
				o.t.Fatalf("operator connection closed while waiting for the ack of %v", f)
			}
			if g["ref"] == ref {
				if g["type"] != "ack" {
					o.t.Fatalf("operator %v: %v", f["type"], g)
				}
				return g
			}
		case <-timeout:
			o.t.Fatalf("operator: no ack for %v within 10s", f)
		}
	}
}
