package browsertest_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/internal/browsertest"
)

func TestNetCutDropsAndRestores(t *testing.T) {
	t.Parallel()
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer backend.Close()
	p := browsertest.NewNetCut(t)
	p.Serve(strings.TrimPrefix(backend.URL, "http://"))
	get := func() error {
		c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		resp, err := c.Get(p.URL())
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if string(body) != "ok" {
			t.Errorf("body %q", body)
		}
		return nil
	}
	if err := get(); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}

	// An open connection breaks when the network is cut.
	open, err := net.Dial("tcp", strings.TrimPrefix(p.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	time.Sleep(50 * time.Millisecond) // let the proxy pair it with a backend connection
	p.Cut()
	open.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := open.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Fatalf("an open connection survived the cut (read: %v)", err)
	}
	if err := get(); err == nil {
		t.Fatal("a request got through a cut network")
	}
	p.Restore()
	if err := get(); err != nil {
		t.Fatalf("after restore: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
