package session

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/switchboard-chat/switchboard"
)

// Close codes of the protocol.
const (
	closeSlowConsumer   websocket.StatusCode = 4008
	closeTokenInvalid   websocket.StatusCode = 4001
	closeSessionExpired websocket.StatusCode = 4401
	closeRateLimited    websocket.StatusCode = 4429
)

// conn is one WebSocket connection: one reader goroutine (the handler's),
// one writer goroutine draining a bounded queue, and a pinger.
type conn struct {
	ws    *websocket.Conn
	srv   *Server
	log   *slog.Logger
	ctx   context.Context
	close context.CancelCauseFunc

	// Exactly one of visitor / operator is set.
	visitor  *switchboard.Visitor
	operator *switchboard.Operator
	deptID   string // the visitor's widget department
	ip       string
	sessHash string // the operator's session, re-checked periodically

	limiter    *rate.Limiter // nil when --ws-rate is 0
	violations int           // rate-limited frames in a row

	mu      sync.Mutex
	queue   [][]byte
	latest  map[string][]byte // coalesced frames by key: only the newest is sent
	wake    chan struct{}
	closing bool
	// chats are the chats whose live frames this connection receives: true
	// while it takes part in the open chat (a visitor's own chat, an
	// operator's assigned one), false once the chat ended. Being in the map
	// proves the right to the chat, so hot frames skip a store read.
	chats map[string]bool
	// id names the connection in the cluster (directory, visitor presence).
	id string
	// seqs is, per chat, the last message seq given to the connection
	// (cluster mode only: there messages may arrive out of order).
	seqs map[string]int64
}

func (s *Server) newConn(ctx context.Context, ws *websocket.Conn, ip string) *conn {
	ctx, cancel := context.WithCancelCause(ctx)
	c := &conn{ws: ws, srv: s, ctx: ctx, close: cancel, ip: ip, wake: make(chan struct{}, 1), chats: map[string]bool{},
		id: switchboard.NewID(), seqs: map[string]int64{}}
	if s.cfg.Rate > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(s.cfg.Rate), s.cfg.Burst)
	}
	ws.SetReadLimit(maxFrameBytes)
	return c
}

// maxFrameBytes: a larger frame closes the connection with 1009.
const maxFrameBytes = 64 << 10

// send queues a frame for the writer. A connection whose queue is full is
// a slow consumer: it is closed with 4008 and may resume later, which loses
// nothing because every message is in the store. It returns false then.
func (c *conn) send(frame []byte) bool {
	return c.enqueue(frame, false)
}

// sendForce queues a frame even past the limit: resume backlogs, which are
// bounded by the chat's own size.
func (c *conn) sendForce(frame []byte) { c.enqueue(frame, true) }

func (c *conn) enqueue(frame []byte, force bool) bool {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return false
	}
	if !force && len(c.queue) >= c.srv.cfg.SendQueue {
		c.closing = true
		c.mu.Unlock()
		c.srv.metrics.slowConsumer()
		c.shutdown(closeSlowConsumer, "slow consumer: resume with after_seq")
		return false
	}
	c.queue = append(c.queue, frame)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// sendLatest queues a frame that supersedes any earlier frame with the
// same key not yet written (a department's waiting count): a burst of
// changes costs one frame, and such frames never make a slow consumer.
func (c *conn) sendLatest(key string, frame []byte) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	if c.latest == nil {
		c.latest = map[string][]byte{}
	}
	c.latest[key] = frame
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// shutdown closes the connection with a code, from any goroutine. The
// queue is dropped; the close frame goes out after the frame being written
// (if the peer reads at all), and the read loop ends when the close
// handshake does, which ends the connection's goroutines.
func (c *conn) shutdown(code websocket.StatusCode, reason string) {
	c.mu.Lock()
	c.closing = true
	c.queue = nil
	c.mu.Unlock()
	go func() {
		err := c.ws.Close(code, reason)
		c.close(fmt.Errorf("closed with %d %s: %w", code, reason, err))
	}()
}

// writeLoop sends queued frames until the connection ends.
func (c *conn) writeLoop() {
	var batch [][]byte
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.wake:
		}
		c.mu.Lock()
		batch, c.queue = c.queue, batch[:0]
		for _, f := range c.latest {
			batch = append(batch, f)
		}
		clear(c.latest)
		c.mu.Unlock()
		for _, f := range batch {
			ctx, cancel := context.WithTimeout(c.ctx, c.srv.cfg.WriteTimeout)
			err := c.ws.Write(ctx, websocket.MessageText, f)
			cancel()
			if err != nil {
				c.close(err)
				return
			}
		}
		clear(batch)
	}
}

// pingLoop closes a connection that does not answer pings: a dead client
// must not hold its chats or queue memory.
func (c *conn) pingLoop() {
	t := time.NewTicker(c.srv.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		// Two intervals without a pong: the client missed two pings.
		ctx, cancel := context.WithTimeout(c.ctx, 2*c.srv.cfg.PingInterval)
		err := c.ws.Ping(ctx)
		cancel()
		if err != nil {
			if c.ctx.Err() == nil {
				c.log.Info("closing unresponsive connection", "err", err)
				c.shutdown(websocket.StatusGoingAway, "no pong")
			}
			return
		}
	}
}

// allow applies the per-connection frame rate. Refused frames get
// rate_limited; a client that keeps sending while refused is closed with 4429.
func (c *conn) allow() *protoError {
	if c.limiter == nil {
		return nil
	}
	r := c.limiter.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		c.violations++
		c.srv.metrics.rateLimited()
		if c.violations > c.srv.cfg.Burst+10 {
			c.shutdown(closeRateLimited, "rate limit exceeded")
		}
		return &protoError{Code: "rate_limited", Message: "too many frames; slow down", RetryAfterMS: max(1, d.Milliseconds())}
	}
	c.violations = 0
	return nil
}

// subscribed reports whether the connection receives the chat's frames.
func (c *conn) subscribed(chatID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.chats[chatID]
	return ok
}

// active reports whether the connection takes part in the chat and it has
// not ended.
func (c *conn) active(chatID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.chats[chatID]
}
