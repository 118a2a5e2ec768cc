package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// apiClient calls the HTTP API as one logged-in operator (or anonymously).
type apiClient struct {
	base  string
	hc    *http.Client
	token string
}

// apiError is a non-2xx answer of the API.
type apiError struct {
	method, path string
	status       int
	code, msg    string
	retryAfter   time.Duration
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: HTTP %d %s: %s", e.method, e.path, e.status, e.code, e.msg)
}

// call sends body as JSON and decodes the answer into out (when not nil).
func (a *apiClient) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(encode(body))
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		e := &apiError{method: method, path: path, status: resp.StatusCode, msg: string(bytes.TrimSpace(data))}
		var body struct {
			Error struct{ Code, Message string }
		}
		if json.Unmarshal(data, &body) == nil && body.Error.Code != "" {
			e.code, e.msg = body.Error.Code, body.Error.Message
		}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			e.retryAfter = time.Duration(s) * time.Second
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// httpClient returns a client whose connections come from source address
// ip (nil: the system's choice). WebSocket dials use it too.
func httpClient(ip net.IP) *http.Client {
	d := &net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}
	if ip != nil {
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	return &http.Client{Transport: &http.Transport{
		DialContext:         d.DialContext,
		MaxIdleConns:        100,
		MaxIdleConnsPerHost: 100,
		IdleConnTimeout:     30 * time.Second,
		ForceAttemptHTTP2:   false,
	}}
}
