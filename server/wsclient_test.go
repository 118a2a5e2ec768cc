package server_test

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
)

// frame is one decoded server frame.
type frame map[string]any

func (f frame) str(k string) string { s, _ := f[k].(string); return s }
func (f frame) num(k string) int64  { n, _ := f[k].(float64); return int64(n) }
func (f frame) obj(k string) frame  { m, _ := f[k].(map[string]any); return m }

// wsClient is a test client of the protocol: a reader goroutine buffers
// every frame; tests wait for the ones they expect.
type wsClient struct {
	t    testing.TB
	name string
	ws   *websocket.Conn

	drop func(frame) bool // frames the reader discards (nil keeps all)

	mu      sync.Mutex
	cond    *sync.Cond
	frames  []frame
	closed  error
	nextRef int
}

func dial(t testing.TB, name, url string, header http.Header) *wsClient {
	t.Helper()
	return dialDropping(t, name, url, header, nil)
}

// dialDropping is dial with a filter of frames not worth keeping (a busy
// sender's echoes), so the buffer stays small and the client reads fast.
func dialDropping(t testing.TB, name, url string, header http.Header, drop func(frame) bool) *wsClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: header})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("%s: dial %s: %v (HTTP %d)", name, url, err, status)
	}
	ws.SetReadLimit(1 << 20)
	c := &wsClient{t: t, name: name, ws: ws, drop: drop}
	c.cond = sync.NewCond(&c.mu)
	go c.readLoop()
	t.Cleanup(func() { ws.CloseNow() })
	return c
}

func (c *wsClient) readLoop() {
	for {
		_, data, err := c.ws.Read(context.Background())
		c.mu.Lock()
		if err != nil {
			c.closed = err
			c.cond.Broadcast()
			c.mu.Unlock()
			return
		}
		var f frame
		if jerr := json.Unmarshal(data, &f); jerr != nil {
			f = frame{"type": "<invalid json>", "raw": string(data)}
		}
		if c.drop != nil && c.drop(f) {
			c.mu.Unlock()
			continue
		}
		c.frames = append(c.frames, f)
		c.cond.Broadcast()
		c.mu.Unlock()
	}
}

// send writes a frame as JSON.
func (c *wsClient) send(f frame) {
	c.t.Helper()
	data, _ := json.Marshal(f)
	c.sendRaw(websocket.MessageText, data)
}

func (c *wsClient) sendRaw(typ websocket.MessageType, data []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, typ, data); err != nil {
		c.t.Fatalf("%s: write: %v", c.name, err)
	}
}

// wait returns (and removes) the first buffered frame that match accepts,
// waiting up to d for it.
func (c *wsClient) wait(d time.Duration, what string, match func(frame) bool) frame {
	c.t.Helper()
	f, err := c.tryWait(d, match)
	if err != nil {
		c.t.Fatalf("%s: waiting for %s: %v; buffered: %v", c.name, what, err, c.buffered())
	}
	return f
}

func (c *wsClient) tryWait(d time.Duration, match func(frame) bool) (frame, error) {
	deadline := time.Now().Add(d)
	timer := time.AfterFunc(d, func() { c.mu.Lock(); c.cond.Broadcast(); c.mu.Unlock() })
	defer timer.Stop()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for i, f := range c.frames {
			if match(f) {
				c.frames = append(c.frames[:i:i], c.frames[i+1:]...)
				return f, nil
			}
		}
		if c.closed != nil {
			return nil, fmt.Errorf("connection closed: %w", c.closed)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("timed out after %v", d)
		}
		c.cond.Wait()
	}
}

func (c *wsClient) buffered() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, f := range c.frames {
		b, _ := json.Marshal(f)
		s := string(b)
		if len(s) > 160 {
			s = s[:160] + "…"
		}
		out = append(out, s)
	}
	if len(out) > 20 {
		out = append(out[:20], fmt.Sprintf("(+%d more)", len(out)-20))
	}
	return out
}

// waitType waits for the first frame of a type.
func (c *wsClient) waitType(typ string, d time.Duration) frame {
	c.t.Helper()
	return c.wait(d, typ, func(f frame) bool { return f.str("type") == typ })
}

// request sends f with a fresh ref and returns the ack or error with it.
func (c *wsClient) request(f frame) frame {
	c.t.Helper()
	c.mu.Lock()
	c.nextRef++
	ref := fmt.Sprintf("r%d", c.nextRef)
	c.mu.Unlock()
	f["ref"] = ref
	c.send(f)
	return c.wait(10*time.Second, "reply to "+ref, func(g frame) bool { return g.str("ref") == ref })
}

// ok sends f and fails unless it is acked.
func (c *wsClient) ok(f frame) frame {
	c.t.Helper()
	typ := f["type"]
	r := c.request(f)
	if r.str("type") != "ack" {
		c.t.Fatalf("%s: %v: got %v, want an ack", c.name, typ, r)
	}
	return r
}

// refused sends f and fails unless an error frame with code comes back.
func (c *wsClient) refused(f frame, code string) frame {
	c.t.Helper()
	r := c.request(f)
	if r.str("type") != "error" || r.str("code") != code || r.str("message") == "" {
		c.t.Fatalf("%s: %v: got %v, want error %q", c.name, f["type"], r, code)
	}
	return r
}

// waitClosed waits for the server to close the connection and returns the
// close code.
func (c *wsClient) waitClosed(d time.Duration) websocket.StatusCode {
	c.t.Helper()
	_, err := c.tryWait(d, func(frame) bool { return false })
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed == nil {
		c.t.Fatalf("%s: still open after %v (%v)", c.name, d, err)
	}
	return websocket.CloseStatus(c.closed)
}

// quiet fails if any frame matching match arrives within d.
func (c *wsClient) quiet(d time.Duration, what string, match func(frame) bool) {
	c.t.Helper()
	if f, err := c.tryWait(d, match); err == nil {
		c.t.Fatalf("%s: unexpected %s: %v", c.name, what, f)
	}
}

func wsURL(httpURL, path string) string {
	return "ws" + strings.TrimPrefix(httpURL, "http") + path
}

func frameOf(t testing.TB, data []byte) frame {
	t.Helper()
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("not JSON: %s", data)
	}
	return f
}

func itoa(i int) string { return fmt.Sprint(i) }
