// Package session serves the WebSocket protocol (docs/protocol.md): the
// visitor endpoint /ws/visitor and the operator endpoint /ws/operator. Each
// connection has one reader and one writer goroutine and a bounded send
// queue; messages are acked only after the store committed them, and a
// per-chat lock publishes them in seq order.
package session

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/switchboard-chat/switchboard"
	"github.com/switchboard-chat/switchboard/auth"
	"github.com/switchboard-chat/switchboard/clientip"
	"github.com/switchboard-chat/switchboard/cluster"
	"github.com/switchboard-chat/switchboard/router"
	"github.com/switchboard-chat/switchboard/store"
)

// Router is what the session layer asks of the router.
type Router interface {
	Connect(ctx context.Context, opID string) (switchboard.Status, error)
	Disconnect(opID string)
	SetStatus(ctx context.Context, opID string, s switchboard.Status) error
	DepartmentOnline(departmentID string) bool
	StartChat(ctx context.Context, c store.NewChat) (switchboard.Chat, error)
	Accept(ctx context.Context, opID, chatID string) (switchboard.Chat, error)
	Decline(ctx context.Context, opID, chatID string) error
	Ended(chat switchboard.Chat)
	Reopened(ctx context.Context, chat switchboard.Chat) error
	Transfer(ctx context.Context, req router.TransferRequest) error
	TakeOver(ctx context.Context, by switchboard.Operator, chatID string) (switchboard.Chat, error)
}

// Store is what the session layer asks of the store.
type Store interface {
	Department(ctx context.Context, id string) (switchboard.Department, error)
	Operator(ctx context.Context, id string) (switchboard.Operator, error)
	DepartmentByWidgetKey(ctx context.Context, key string) (switchboard.Department, error)
	Visitor(ctx context.Context, id string) (switchboard.Visitor, error)
	UpsertVisitor(ctx context.Context, v switchboard.Visitor) (switchboard.Visitor, error)
	Chat(ctx context.Context, id string) (switchboard.Chat, error)
	VisitorOpenChats(ctx context.Context, visitorID string) ([]switchboard.Chat, error)
	OperatorOpenChats(ctx context.Context, operatorID string) ([]switchboard.Chat, error)
	EndChat(ctx context.Context, chatID string, at time.Time) (switchboard.Chat, error)
	ReopenChat(ctx context.Context, chatID, toOperatorID string, at time.Time) (switchboard.Chat, error)
	AppendMessage(ctx context.Context, m store.NewMessage) (switchboard.Message, bool, error)
	Messages(ctx context.Context, chatID string, afterSeq int64, limit int) ([]switchboard.Message, error)
	SaveFeedback(ctx context.Context, f switchboard.Feedback) error
	ConsumeTicket(ctx context.Context, ticketHash string, now time.Time) (operatorID, sessionHash string, err error)
	SessionOperator(ctx context.Context, tokenHash string, now time.Time) (switchboard.Session, switchboard.Operator, error)
	IPBlocked(ctx context.Context, ip netip.Addr, departmentID string, now time.Time) (bool, error)
	CreateBlock(ctx context.Context, b *switchboard.BlockedIP) error
}

// Authenticator finds the operator and session hash of an HTTP request
// (cookie or bearer token); api.Server.Authenticate is one.
type Authenticator func(r *http.Request) (switchboard.Operator, string, error)

// Config configures the WebSocket endpoints. Zero values take the defaults
// in brackets.
type Config struct {
	Store Store
	// Router assigns chats. The router in turn notifies this Server, so it
	// may be given after New with Attach; it must be set before serving.
	Router        Router
	Authenticate  Authenticator
	VisitorTokens *auth.VisitorTokens
	IPs           *clientip.Resolver // nil trusts no proxy
	// ConsoleOrigin is the console's origin (scheme://host[:port]); operator
	// sockets opened by a browser must come from it or from the Host they address.
	ConsoleOrigin string

	MaxMessageBytes   int           // [8192] largest message body, UTF-8 bytes
	Rate              float64       // frames per second per connection; 0 turns it off
	Burst             int           // [40] frames above Rate
	IPMaxSockets      int           // [200] open sockets per client IP
	IPMaxChatsPerHour int           // [100] new chats per client IP per hour
	SendQueue         int           // [256] frames queued per connection before it is a slow consumer
	WriteTimeout      time.Duration // [10s] per frame
	PingInterval      time.Duration // [30s]
	SessionCheck      time.Duration // [5s] how often an operator's session is re-checked (logout, disable, password change)

	// Metrics observes connections, messages and limits; nil observes nothing.
	Metrics Metrics
	// Cluster, when set, carries chat frames, operator-addressed frames and
	// visitor presence across nodes (cluster.go); nil is a single node.
	Cluster cluster.Node

	Log *slog.Logger
	Now func() time.Time
}

// Server serves both WebSocket endpoints. Create it with New.
type Server struct {
	cfg     Config
	store   Store
	router  Router
	log     *slog.Logger
	now     func() time.Time
	hub     *hub
	metrics counters

	chatsByIP *auth.Limiter

	ipMu      sync.Mutex
	ipSockets map[string]int

	visitors  visitorRegistry // open visitor connections (presence.go)
	positions positions       // queue positions last told (positions.go)
	monitors  monitors        // chats watched by supervisors (monitor.go)

	// connMu orders wg.Add against draining: once CloseAll set draining,
	// no connection is added, so Wait cannot race with an Add and no
	// connection that CloseAll missed keeps Wait blocked.
	connMu   sync.Mutex
	draining bool
	wg       sync.WaitGroup // live connections
}

// New returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil || cfg.Authenticate == nil || cfg.VisitorTokens == nil {
		return nil, errors.New("session: Store, Authenticate and VisitorTokens are required")
	}
	cfg.MaxMessageBytes = cmp.Or(cfg.MaxMessageBytes, 8192)
	cfg.Burst = cmp.Or(cfg.Burst, 40)
	cfg.IPMaxSockets = cmp.Or(cfg.IPMaxSockets, 200)
	cfg.IPMaxChatsPerHour = cmp.Or(cfg.IPMaxChatsPerHour, 100)
	cfg.SendQueue = cmp.Or(cfg.SendQueue, 256)
	cfg.WriteTimeout = cmp.Or(cfg.WriteTimeout, 10*time.Second)
	cfg.PingInterval = cmp.Or(cfg.PingInterval, 30*time.Second)
	cfg.SessionCheck = cmp.Or(cfg.SessionCheck, 5*time.Second)
	cfg.IPs = cmp.Or(cfg.IPs, &clientip.Resolver{})
	cfg.Log = cmp.Or(cfg.Log, slog.New(slog.DiscardHandler))
	if cfg.Metrics == nil {
		cfg.Metrics = nopMetrics{}
	}
	s := &Server{
		cfg:       cfg,
		store:     cfg.Store,
		router:    cfg.Router,
		log:       cfg.Log.With("component", "session"),
		now:       cfg.Now,
		hub:       newHub(),
		chatsByIP: auth.NewLimiter(time.Hour/time.Duration(cfg.IPMaxChatsPerHour), cfg.IPMaxChatsPerHour),
		ipSockets: map[string]int{},
	}
	s.metrics.obs = cfg.Metrics
	if s.now == nil {
		s.now = time.Now
	}
	if cfg.Cluster != nil {
		s.hub.cl = newClusterHub(cfg.Cluster, s)
		s.hub.cl.start(context.Background())
	}
	return s, nil
}

// Attach sets the router when it could not be given to New (the router
// needs the Server as its Notifier). Call it before serving.
func (s *Server) Attach(r Router) { s.router = r }

// Wait blocks until every connection has ended (after the HTTP server's
// shutdown and CloseAll).
func (s *Server) Wait() {
	s.connMu.Lock()
	s.draining = true
	s.connMu.Unlock()
	s.wg.Wait()
}

// track counts a new connection unless the server is draining.
func (s *Server) track() bool {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.draining {
		return false
	}
	s.wg.Add(1)
	return true
}

// CloseAll tells every client to reconnect elsewhere (1001): used on drain.
func (s *Server) CloseAll() {
	s.connMu.Lock()
	s.draining = true
	s.connMu.Unlock()
	s.hub.mu.RLock()
	var all []*conn
	seen := map[*conn]bool{}
	for _, set := range s.hub.chats {
		for c := range set {
			if !seen[c] {
				seen[c] = true
				all = append(all, c)
			}
		}
	}
	for _, set := range s.hub.operators {
		for c := range set {
			if !seen[c] {
				seen[c] = true
				all = append(all, c)
			}
		}
	}
	s.hub.mu.RUnlock()
	// Visitors not in any chat yet are in no hub set: the registry has them.
	for _, c := range s.visitors.matching(func(*conn, *VisitorPresence) bool { return true }) {
		if !seen[c] {
			seen[c] = true
			all = append(all, c)
		}
	}
	for _, c := range all {
		c.shutdown(websocket.StatusGoingAway, "server going away; reconnect")
	}
}

// reserveIP counts a socket against its IP's limit; release undoes it.
func (s *Server) reserveIP(ip string) bool {
	s.ipMu.Lock()
	defer s.ipMu.Unlock()
	if s.ipSockets[ip] >= s.cfg.IPMaxSockets {
		return false
	}
	s.ipSockets[ip]++
	return true
}

func (s *Server) releaseIP(ip string) {
	s.ipMu.Lock()
	defer s.ipMu.Unlock()
	if s.ipSockets[ip]--; s.ipSockets[ip] <= 0 {
		delete(s.ipSockets, ip)
	}
}

// httpError answers a refused upgrade with the API's JSON error shape.
func httpError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(encode(map[string]any{"error": map[string]string{"code": code, "message": msg}}))
}

// serveConn runs a connection until it ends: the writer and pinger in the
// background, the reader here, dispatching each frame to handle.
func (s *Server) serveConn(c *conn, hello []byte, handle func(c *conn, f *inFrame) ([]byte, error), onClose func()) {
	defer c.close(nil)
	defer onClose()
	defer s.hub.remove(c)
	if !s.track() {
		// Upgraded while the server drains: CloseAll has passed it by.
		_ = c.ws.Close(websocket.StatusGoingAway, "server going away; reconnect")
		return
	}
	defer s.wg.Done()
	s.cfg.Metrics.ConnOpened(c.kind())
	defer s.cfg.Metrics.ConnClosed(c.kind())
	go c.writeLoop()
	go c.pingLoop()
	c.send(hello)
	for {
		typ, data, err := c.ws.Read(c.ctx)
		if err != nil {
			if c.ctx.Err() == nil && websocket.CloseStatus(err) == -1 && !errors.Is(err, context.Canceled) {
				c.log.Debug("read ended", "err", err)
			}
			return
		}
		if typ != websocket.MessageText {
			c.send(errorFrame("", badRequest("", "binary frames are not supported; send JSON text frames")))
			continue
		}
		f, perr := decodeFrame(data)
		if perr == nil {
			perr = c.allow()
		}
		if perr != nil {
			c.send(errorFrame(f.Ref, perr))
			continue
		}
		reply, err := handle(c, f)
		if err != nil {
			pe, internal := toProtoError(err)
			if internal {
				c.log.Error("frame failed", "type", f.Type, "err", err)
			}
			c.send(errorFrame(f.Ref, pe))
			continue
		}
		if reply != nil {
			c.send(reply)
		}
	}
}

func unknownType(t string) *protoError {
	return badRequest("type", "unknown frame type %q", t)
}

// opCtx bounds one frame's store work.
func (c *conn) opCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx, 15*time.Second)
}
