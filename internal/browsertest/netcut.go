package browsertest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// NetCut is a TCP proxy whose network can be dropped: Cut closes every
// connection through it and refuses new ones until Restore. Point a
// browser (or the public URL a widget loads from) at URL to give that
// client a network that can fail mid-chat while others stay connected.
type NetCut struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  map[net.Conn]struct{}
}

// NewNetCut listens on a free loopback port; call Serve with the target
// address once it is known. It is closed on cleanup.
func NewNetCut(t testing.TB) *NetCut {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("browsertest: netcut listen: %v", err)
	}
	p := &NetCut{ln: ln, conns: map[net.Conn]struct{}{}}
	t.Cleanup(func() { ln.Close(); p.Cut() })
	return p
}

// URL is http://<the proxy's address>.
func (p *NetCut) URL() string { return "http://" + p.ln.Addr().String() }

// Serve forwards connections to target (host:port) until cleanup.
func (p *NetCut) Serve(target string) {
	p.target = target
	go func() {
		for {
			c, err := p.ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
}

func (p *NetCut) pipe(c net.Conn) {
	p.mu.Lock()
	if p.down {
		p.mu.Unlock()
		c.Close()
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		p.mu.Unlock()
		c.Close()
		return
	}
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
	c.Close()
	up.Close()
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}

// Cut drops the network: open connections close, new ones are refused.
func (p *NetCut) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
}

// Restore lets connections through again.
func (p *NetCut) Restore() {
	p.mu.Lock()
	p.down = false
	p.mu.Unlock()
}
