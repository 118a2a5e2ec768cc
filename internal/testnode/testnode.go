// Package testnode starts a whole Switchboard server (server.New behind an
// httptest server) on a real store, for tests that drive it from outside:
// over HTTP, WebSockets or a browser. The store gets its first-start setup
// (the default department "Acme" and the admin AdminEmail / AdminPassword),
// and the admin is logged in. The server is drained and closed when the
// test ends.
package testnode

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/auth"
	"github.com/switchboard-chat/switchboard/server"
	"github.com/switchboard-chat/switchboard/store"
)

// The first admin's credentials.
const (
	AdminEmail    = "admin@example.com"
	AdminPassword = "admin-password"
)

// Node is one running server.
type Node struct {
	t          testing.TB
	Store      store.Store
	Server     *server.Server
	HTTP       *httptest.Server
	URL        string                 // the server's own address, http://127.0.0.1:port
	AdminToken string                 // a bearer token of the first admin
	Dept       switchboard.Department // the default department (public)
}

// Start sets st up and serves it. cfg.Store is set to st; an empty
// cfg.PublicURL means the server's own URL (a test that puts a proxy in
// front gives the proxy's, and points the proxy at Addr).
func Start(t testing.TB, st store.Store, cfg server.Config) *Node {
	t.Helper()
	hash, err := auth.HashPassword(AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.Setup(t.Context(), store.Setup{PortalName: "Acme", AdminEmail: AdminEmail, AdminName: "Admin", AdminPasswordHash: hash})
	if err != nil {
		t.Fatal(err)
	}
	n := &Node{t: t, Store: st, Dept: res.Department, HTTP: httptest.NewUnstartedServer(nil)}
	n.URL = "http://" + n.HTTP.Listener.Addr().String()
	cfg.Store = st
	if cfg.PublicURL == "" {
		cfg.PublicURL = n.URL
	}
	n.Server, err = server.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.HTTP.Config.Handler = n.Server
	n.HTTP.Start()
	t.Cleanup(func() {
		n.HTTP.CloseClientConnections()
		n.HTTP.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = n.Server.Drain(ctx)
		n.Server.Close()
	})
	var login struct{ Token string }
	n.API("", "POST", "/api/login", map[string]string{"email": AdminEmail, "password": AdminPassword}, 200, &login)
	n.AdminToken = login.Token
	return n
}

// Addr is the server's own host:port.
func (n *Node) Addr() string { return n.HTTP.Listener.Addr().String() }

// API calls the HTTP API with a bearer token ("" for none) and a JSON body
// (nil for none), fails the test unless the status is want, decodes the
// answer into out (unless nil) and returns it.
func (n *Node) API(token, method, path string, body any, want int, out any) []byte {
	n.t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			n.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, n.URL+path, rd)
	if err != nil {
		n.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	if resp.StatusCode != want {
		n.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, data, want)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			n.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return data
}
