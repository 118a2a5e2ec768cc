package loadgen

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// frame is any server frame, decoded into one flat struct (the fields of
// every type the load generator reads), plus what the client adds: when it
// arrived and from which connection.
type frame struct {
	Type         string `json:"type"`
	Ref          string `json:"ref"`
	ChatID       string `json:"chat_id"`
	Seq          int64  `json:"seq"`
	LastSeq      int64  `json:"last_seq"`
	ClientMsgID  string `json:"client_msg_id"`
	Body         string `json:"body"`
	Status       string `json:"status"`
	Code         string `json:"code"`
	Message      string `json:"message"`
	RetryAfterMS int64  `json:"retry_after_ms"`
	VisitorToken string `json:"visitor_token"`
	Reason       string `json:"reason"`
	From         struct {
		Kind string `json:"kind"`
		ID   string `json:"id"`
	} `json:"from"`
	Chats []struct {
		ChatID  string `json:"chat_id"`
		Status  string `json:"status"`
		LastSeq int64  `json:"last_seq"`
	} `json:"chats"`

	at  time.Time // when the frame was read
	gen int       // the connection it came on
	err error     // evClosed: why the connection ended
}

// Local events share the actors' inbox with frames; their types start with
// an underscore, which no server frame type does.
const (
	evClosed = "_closed" // the connection's reader ended (err says why)
	evStop   = "_stop"   // the run is over: close and return
	evPoll   = "_poll"   // a visitor still waits for its chat to be answered
)

// inbox is an actor's unbounded queue of frames and events. The reader
// never blocks on it, so a busy actor never makes the server see a slow
// consumer.
type inbox struct {
	mu   sync.Mutex
	q    []*frame
	wake chan struct{}
}

func newInbox() *inbox { return &inbox{wake: make(chan struct{}, 1)} }

func (b *inbox) push(f *frame) {
	b.mu.Lock()
	b.q = append(b.q, f)
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// take returns everything queued, oldest first.
func (b *inbox) take(buf []*frame) []*frame {
	b.mu.Lock()
	defer b.mu.Unlock()
	buf = append(buf[:0], b.q...)
	clear(b.q)
	b.q = b.q[:0]
	return buf
}

// pop returns the oldest entry, or nil.
func (b *inbox) pop() *frame {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.q) == 0 {
		return nil
	}
	f := b.q[0]
	b.q[0] = nil
	b.q = b.q[1:]
	return f
}

// wsConn is one WebSocket connection: its reader goroutine pushes every
// frame into the owner's inbox and ends with an evClosed event.
type wsConn struct {
	ws   *websocket.Conn
	gen  int
	done chan struct{} // closed when the reader ended
}

// dialError is a refused upgrade, with the HTTP status.
type dialError struct {
	status int
	err    error
}

func (e *dialError) Error() string {
	if e.status != 0 {
		return fmt.Sprintf("HTTP %d: %v", e.status, e.err)
	}
	return e.err.Error()
}

func (e *dialError) Unwrap() error { return e.err }

// dial opens a WebSocket and starts its reader, which lives until the
// connection ends or ctx is done.
func dial(ctx context.Context, hc *http.Client, url string, header http.Header, gen int, in *inbox) (*wsConn, error) {
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(dctx, url, &websocket.DialOptions{HTTPClient: hc, HTTPHeader: header})
	if err != nil {
		de := &dialError{err: err}
		if resp != nil {
			de.status = resp.StatusCode
		}
		return nil, de
	}
	ws.SetReadLimit(1 << 20)
	c := &wsConn{ws: ws, gen: gen, done: make(chan struct{})}
	go c.read(ctx, in)
	return c, nil
}

func (c *wsConn) read(ctx context.Context, in *inbox) {
	defer close(c.done)
	for {
		_, data, err := c.ws.Read(ctx)
		if err != nil {
			in.push(&frame{Type: evClosed, gen: c.gen, err: err, at: time.Now()})
			return
		}
		f := &frame{}
		if jerr := json.Unmarshal(data, f); jerr != nil {
			f = &frame{Type: "_invalid", Message: fmt.Sprintf("not a JSON frame: %.200s", data)}
		}
		f.at, f.gen = time.Now(), c.gen
		in.push(f)
	}
}

// write sends one frame; a write that fails or takes over 10 s closes the
// connection, which the reader then reports.
func (c *wsConn) write(ctx context.Context, data []byte) error {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := c.ws.Write(wctx, websocket.MessageText, data)
	if err != nil {
		c.ws.CloseNow()
	}
	return err
}

// close ends the connection normally and waits for its reader.
func (c *wsConn) close() {
	if c == nil {
		return
	}
	// A normal close waits for the server's close frame; cap it.
	done := make(chan struct{})
	go func() { _ = c.ws.Close(websocket.StatusNormalClosure, "bench done"); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		c.ws.CloseNow()
	}
	<-c.done
}

// closeStatus is the WebSocket close code in err, or -1.
func closeStatus(err error) websocket.StatusCode { return websocket.CloseStatus(err) }

// isCanceled reports whether err only says that the run ended.
func isCanceled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// encode marshals a client frame.
func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("loadgen: encode %T: %v", v, err))
	}
	return b
}

// out is every client frame the load generator sends.
type out struct {
	Type        string `json:"type"`
	Ref         string `json:"ref,omitempty"`
	ChatID      string `json:"chat_id,omitempty"`
	ClientMsgID string `json:"client_msg_id,omitempty"`
	Body        string `json:"body,omitempty"`
	AfterSeq    *int64 `json:"after_seq,omitempty"`
	Status      string `json:"status,omitempty"`
	Name        string `json:"name,omitempty"`
	Question    string `json:"question,omitempty"`
}

// dialRetrying calls dialOnce until it connects, with a growing pause
// between tries (100 ms doubling to 2 s). It gives up at once on an HTTP 429
// (reported as rateLimited with hint) or a status in final, after attempts
// tries (0: no limit), or when ctx ends.
func (r *runner) dialRetrying(ctx context.Context, attempts int, hint string, final []int, dialOnce func() (*wsConn, error)) (*wsConn, error) {
	backoff := 100 * time.Millisecond
	for try := 1; ; try++ {
		c, err := dialOnce()
		if err == nil {
			return c, nil
		}
		var de *dialError
		if errors.As(err, &de) {
			if de.status == 429 {
				r.rateLimited(hint)
				return nil, err
			}
			if slices.Contains(final, de.status) {
				return nil, err
			}
		}
		if ctx.Err() != nil || (attempts > 0 && try >= attempts) {
			return nil, err
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}
