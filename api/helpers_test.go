package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/api"
	"github.com/switchboard-chat/switchboard/auth"
	"github.com/switchboard-chat/switchboard/internal/testenv"
	"github.com/switchboard-chat/switchboard/internal/teststore"
	"github.com/switchboard-chat/switchboard/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// backends runs f once per store backend: the same API tests must pass on
// the embedded default and on PostgreSQL.
func backends(t *testing.T, f func(t *testing.T, st store.Store)) { teststore.Each(t, f) }

const adminPassword = "correct horse battery"

// env is a running API over a store with a first admin logged in.
type env struct {
	t     *testing.T
	st    store.Store
	srv   *httptest.Server
	admin client
	dept  switchboard.Department // the default department
}

func newEnv(t *testing.T, st store.Store) *env {
	t.Helper()
	hash, err := auth.HashPassword(adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.Setup(t.Context(), store.Setup{PortalName: "Acme", AdminEmail: "admin@example.com", AdminName: "Admin", AdminPasswordHash: hash})
	if err != nil || !res.Created {
		t.Fatalf("setup: created=%v err=%v", res.Created, err)
	}
	e := &env{t: t, st: st, dept: res.Department}
	e.srv = httptest.NewUnstartedServer(nil)
	a, err := api.New(api.Config{Store: st, PublicURL: "http://" + e.srv.Listener.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.Config.Handler = a
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	e.admin = e.login("admin@example.com", adminPassword)
	return e
}

// client calls the API with a bearer token ("" for none).
type client struct {
	e     *env
	token string
}

func (e *env) anon() client { return client{e: e} }

func (e *env) login(email, password string) client {
	e.t.Helper()
	var out struct{ Token string }
	e.anon().do("POST", "/api/login", map[string]string{"email": email, "password": password}, 200, &out)
	if out.Token == "" {
		e.t.Fatal("login returned no token")
	}
	return client{e: e, token: out.Token}
}

// newOperator creates an operator as admin and logs it in.
func (e *env) newOperator(name string, role switchboard.Role) (switchboard.Operator, client) {
	e.t.Helper()
	email := strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@example.com"
	var o switchboard.Operator
	e.admin.do("POST", "/api/operators", map[string]any{"name": name, "email": email, "password": "password-" + name, "role": role}, 201, &o)
	return o, e.login(email, "password-"+name)
}

// do sends body (marshalled unless it is a string or []byte) and checks the
// status; out, when not nil, receives the decoded response.
func (c client) do(method, path string, body any, wantStatus int, out any) *http.Response {
	c.e.t.Helper()
	resp, data := c.raw(method, path, body, nil)
	if resp.StatusCode != wantStatus {
		c.e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.StatusCode, wantStatus, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			c.e.t.Fatalf("%s %s: decode %s: %v", method, path, data, err)
		}
	}
	return resp
}

func (c client) raw(method, path string, body any, header http.Header) (*http.Response, []byte) {
	c.e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			c.e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.e.srv.URL+path, rd)
	if err != nil {
		c.e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.e.t.Fatal(err)
	}
	return resp, data
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
	} `json:"error"`
}

// fails sends a request that must fail with status, code and field.
func (c client) fails(method, path string, body any, status int, code, field string) {
	c.e.t.Helper()
	resp, data := c.raw(method, path, body, nil)
	var eb errorBody
	if err := json.Unmarshal(data, &eb); err != nil {
		c.e.t.Fatalf("%s %s: error body is not JSON: %s", method, path, data)
	}
	if resp.StatusCode != status || eb.Error.Code != code || eb.Error.Field != field || eb.Error.Message == "" {
		c.e.t.Fatalf("%s %s: got %d %+v, want %d code=%q field=%q", method, path, resp.StatusCode, eb.Error, status, code, field)
	}
}

// getJSON returns the raw JSON of a GET, to compare states before and
// after a refused change.
func (c client) getJSON(path string) string {
	c.e.t.Helper()
	_, data := c.raw("GET", path, nil, nil)
	return string(data)
}
