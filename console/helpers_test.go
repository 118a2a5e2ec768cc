package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/internal/browsertest"
	"github.com/switchboard-chat/switchboard/internal/testnode"
	"github.com/switchboard-chat/switchboard/internal/teststore"
	"github.com/switchboard-chat/switchboard/server"
	"github.com/switchboard-chat/switchboard/store"
)

// env is a running server on SQLite with the first admin logged in over
// the API (for setup and checks) and the default public department.
type env struct {
	t          *testing.T
	st         store.Store
	url        string
	adminToken string
	dept       switchboard.Department
	tn         *testnode.Node
}

func newEnv(t *testing.T) *env {
	t.Helper()
	tn := testnode.Start(t, teststore.Open(t, "sqlite"), server.Config{})
	return &env{t: t, st: tn.Store, url: tn.URL, adminToken: tn.AdminToken, dept: tn.Dept, tn: tn}
}

// api calls the HTTP API with a bearer token and checks the status.
func (e *env) api(token, method, path string, body any, want int, out any) {
	e.t.Helper()
	e.tn.API(token, method, path, body, want, out)
}

// operator creates an operator (password "password-<name>") in the given
// departments and returns its id.
func (e *env) operator(name, role string, deptIDs ...string) string {
	e.t.Helper()
	var o struct{ ID string }
	e.api(e.adminToken, "POST", "/api/operators", map[string]any{"name": name, "email": name + "@example.com",
		"password": "password-" + name, "role": role, "max_chats": 5}, 201, &o)
	for _, d := range deptIDs {
		e.api(e.adminToken, "PUT", "/api/departments/"+d+"/operators/"+o.ID, nil, 204, nil)
	}
	return o.ID
}

// token logs in over the API and returns a bearer token.
func (e *env) token(email, password string) string {
	e.t.Helper()
	var login struct{ Token string }
	e.api("", "POST", "/api/login", map[string]string{"email": email, "password": password}, 200, &login)
	return login.Token
}

// sb is a JavaScript expression for the first element with the data-sb hook
// (and optional extra CSS) in the console's document.
func sb(hook string, extra ...string) string {
	sel := fmt.Sprintf(`[data-sb=%q]`, hook) + strings.Join(extra, "")
	q, _ := json.Marshal(sel)
	return "document.querySelector(" + string(q) + ")"
}

// q is a JavaScript expression for the first element matching sel.
func q(sel string) string {
	s, _ := json.Marshal(sel)
	return "document.querySelector(" + string(s) + ")"
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// login opens the console in ctx and logs in.
func login(t *testing.T, ctx context.Context, url, email, password string) {
	t.Helper()
	browsertest.Run(t, ctx, navigate(url+"/"))
	browsertest.WaitJS(t, ctx, sb("login-email")+" != null", 15*time.Second, "login form")
	browsertest.SetValue(t, ctx, sb("login-email"), email)
	browsertest.SetValue(t, ctx, sb("login-password"), password)
	browsertest.Click(t, ctx, sb("login-submit"))
	browsertest.WaitJS(t, ctx, `document.getElementById('app').dataset.conn === 'connected'`, 15*time.Second, "console connected")
}

// goOnline switches the console's status to online and waits for the ack.
func goOnline(t *testing.T, ctx context.Context) {
	t.Helper()
	browsertest.SetValue(t, ctx, sb("status"), "online")
	browsertest.WaitJS(t, ctx, `document.getElementById('app').dataset.status === 'online'`, 10*time.Second, "status online")
}

// frame is one decoded protocol frame.
type frame map[string]any

func (f frame) str(k string) string { s, _ := f[k].(string); return s }
func (f frame) num(k string) int64  { n, _ := f[k].(float64); return int64(n) }

// wsClient is a minimal protocol client for the visitor side of console
// tests.
type wsClient struct {
	t      *testing.T
	ws     *websocket.Conn
	mu     sync.Mutex
	frames []frame
	signal chan struct{}
	ref    int
}

func dialVisitor(t *testing.T, baseURL, widgetKey string) *wsClient {
	t.Helper()
	return dialWS(t, baseURL+"/ws/visitor?widget="+widgetKey, http.Header{"User-Agent": {"ConsoleTest/1.0"}})
}

// dialOperator connects an operator with a bearer token.
func dialOperator(t *testing.T, baseURL, token string) *wsClient {
	t.Helper()
	return dialWS(t, baseURL+"/ws/operator", http.Header{"Authorization": {"Bearer " + token}})
}

func dialWS(t *testing.T, httpURL string, header http.Header) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(httpURL, "http")
	ws, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	c := &wsClient{t: t, ws: ws, signal: make(chan struct{}, 1)}
	go func() {
		for {
			_, data, err := ws.Read(context.Background())
			if err != nil {
				return
			}
			var f frame
			if json.Unmarshal(data, &f) != nil {
				continue
			}
			c.mu.Lock()
			c.frames = append(c.frames, f)
			c.mu.Unlock()
			select {
			case c.signal <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() { ws.CloseNow() })
	return c
}

func (c *wsClient) send(f frame) {
	c.t.Helper()
	data, _ := json.Marshal(f)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, data); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// wait removes and returns the first frame match accepts.
func (c *wsClient) wait(what string, match func(frame) bool) frame {
	c.t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		c.mu.Lock()
		for i, f := range c.frames {
			if match(f) {
				c.frames = append(c.frames[:i:i], c.frames[i+1:]...)
				c.mu.Unlock()
				return f
			}
		}
		c.mu.Unlock()
		select {
		case <-c.signal:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			c.mu.Lock()
			have := fmt.Sprint(c.frames)
			c.mu.Unlock()
			c.t.Fatalf("no %s within 15s; have %s", what, have)
		}
	}
}

// ok sends f with a ref and returns its ack.
func (c *wsClient) ok(f frame) frame {
	c.t.Helper()
	c.ref++
	ref := fmt.Sprint("v", c.ref)
	f["ref"] = ref
	c.send(f)
	r := c.wait("reply "+ref, func(g frame) bool { return g.str("ref") == ref })
	if r.str("type") != "ack" {
		c.t.Fatalf("%v: %v", f["type"], r)
	}
	return r
}

// waitHistory waits until the history view shows category and has no
// answer outstanding.
func waitHistory(t *testing.T, ctx context.Context, category string) {
	t.Helper()
	browsertest.WaitJS(t, ctx, sb("history")+`?.dataset.category === '`+category+`' && `+sb("history")+`.dataset.loading === 'false'`,
		10*time.Second, "the history's "+category+" list")
}
