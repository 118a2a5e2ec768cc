package clientip

import (
	"net/http/httptest"
	"testing"
)

func TestIP(t *testing.T) {
	trusting, err := New("10.0.0.0/8, 192.168.1.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New("10.0.0.0/33"); err == nil {
		t.Fatal("bad CIDR accepted")
	}
	cases := []struct {
		name   string
		r      *Resolver
		remote string
		xff    string
		fwd    string
		want   string
	}{
		{"no proxies trusted: header ignored", &Resolver{}, "203.0.113.9:1234", "1.2.3.4", "", "203.0.113.9"},
		{"untrusted peer: header ignored", trusting, "203.0.113.9:1234", "1.2.3.4", "", "203.0.113.9"},
		{"trusted peer", trusting, "10.1.2.3:1234", "1.2.3.4", "", "1.2.3.4"},
		{"chain of trusted proxies", trusting, "10.1.2.3:1", "7.7.7.7, 1.2.3.4, 192.168.1.1, 10.9.9.9", "", "1.2.3.4"},
		{"spoofed left part ignored", trusting, "10.1.2.3:1", "6.6.6.6, 1.2.3.4", "", "1.2.3.4"},
		{"garbage header", trusting, "10.1.2.3:1", "not-an-ip", "", "10.1.2.3"},
		{"Forwarded header", trusting, "10.1.2.3:1", "", `for="[2001:db8::1]:4711";proto=https`, "2001:db8::1"},
		{"v4-mapped v6 peer", &Resolver{}, "[::ffff:198.51.100.1]:80", "", "", "198.51.100.1"},
	}
	for _, c := range cases {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = c.remote
		if c.xff != "" {
			req.Header.Set("X-Forwarded-For", c.xff)
		}
		if c.fwd != "" {
			req.Header.Set("Forwarded", c.fwd)
		}
		if got := c.r.IP(req).String(); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
}
