package server_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/clientip"
	"github.com/switchboard-chat/switchboard/cluster"
	"github.com/switchboard-chat/switchboard/internal/testenv"
	"github.com/switchboard-chat/switchboard/internal/testnode"
	"github.com/switchboard-chat/switchboard/mailer"
	"github.com/switchboard-chat/switchboard/server"
	"github.com/switchboard-chat/switchboard/session"
	"github.com/switchboard-chat/switchboard/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// node is one running server over a real store, with the first admin
// logged in and the default department's widget key at hand.
type node struct {
	t          testing.TB
	st         store.Store
	srv        *server.Server
	http       *httptest.Server
	adminToken string
	dept       switchboard.Department
	tn         *testnode.Node
}

type nodeOptions struct {
	live  session.Config
	grace time.Duration
	ips   *clientip.Resolver // trusted proxies of the session and the API (nil: none)
	mail  mailer.Sender      // where the outbox's mail goes (nil: logged)
	// mailTuning tunes the server's mail worker (zero: the defaults).
	mailTuning mailer.Config
	node       cluster.Node // cluster mode (nil: a single node)
}

func newNode(t testing.TB, st store.Store, opts nodeOptions) *node {
	t.Helper()
	return fromTestNode(t, testnode.Start(t, st, server.Config{Live: opts.live, OperatorGrace: opts.grace, IPs: opts.ips,
		Mail: opts.mail, MailTuning: opts.mailTuning, Cluster: opts.node}))
}

func fromTestNode(t testing.TB, tn *testnode.Node) *node {
	return &node{t: t, st: tn.Store, srv: tn.Server, http: tn.HTTP, adminToken: tn.AdminToken, dept: tn.Dept, tn: tn}
}

// api calls the HTTP API and checks the status.
func (n *node) api(token, method, path string, body any, want int, out any) {
	n.t.Helper()
	n.tn.API(token, method, path, body, want, out)
}

// operator creates an operator in the given departments and returns its id
// and a bearer token.
func (n *node) operator(name string, maxChats int, deptIDs ...string) (id, token string) {
	n.t.Helper()
	email := name + "@example.com"
	var o struct{ ID string }
	n.api(n.adminToken, "POST", "/api/operators", map[string]any{"name": name, "email": email, "password": "password-" + name, "role": "operator", "max_chats": maxChats}, 201, &o)
	for _, d := range deptIDs {
		n.api(n.adminToken, "PUT", "/api/departments/"+d+"/operators/"+o.ID, nil, 204, nil)
	}
	var login struct{ Token string }
	n.api("", "POST", "/api/login", map[string]string{"email": email, "password": "password-" + name}, 200, &login)
	return o.ID, login.Token
}

// department creates a public department with the given timeouts, set
// through the store so tests may use timeouts shorter than the API allows.
func (n *node) department(name string, ringS, waitS int) switchboard.Department {
	n.t.Helper()
	var d struct{ ID string }
	n.api(n.adminToken, "POST", "/api/departments", map[string]any{"name": name, "visibility": "public"}, 201, &d)
	dep, err := n.st.UpdateDepartment(n.t.Context(), d.ID, func(d *switchboard.Department) error {
		d.RingTimeoutS, d.WaitTimeoutS = ringS, waitS
		return nil
	})
	if err != nil {
		n.t.Fatal(err)
	}
	return dep
}

func (n *node) visitor(name, widgetKey, token string) *wsClient {
	n.t.Helper()
	url := wsURL(n.http.URL, "/ws/visitor?widget="+widgetKey)
	if token != "" {
		url += "&token=" + token
	}
	return dial(n.t, name, url, nil)
}

func (n *node) operatorConn(name, token string) *wsClient {
	n.t.Helper()
	return dial(n.t, name, wsURL(n.http.URL, "/ws/operator"), http.Header{"Authorization": {"Bearer " + token}})
}
